"""The package as the Docker image installs it: a wheel that carries its migrations, and a lock
file that pins every dependency."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

from alembic.script import ScriptDirectory

from app.schema import alembic_config
from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


class TestWheel:
    def test_an_installed_wheel_migrates_a_sqlite_file_from_any_directory(
        self, tmp_path: Path
    ) -> None:
        wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
        elsewhere.mkdir()
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        subprocess.run([*pip, "wheel", "--no-deps", str(ROOT), "-w", str(wheels)], check=True)
        [wheel] = wheels.glob("vafa-*.whl")
        subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                       check=True)  # fmt: skip
        # The installed package alone (its dependencies from this environment), run in a
        # directory that has no migrations/ and no alembic.ini.
        env = {**os.environ, "PYTHONPATH": str(site), "VAFA_SECRET_KEY": SECRET_KEY}
        env.pop("VAFA_DATABASE_URL", None)

        def vafa(*args: str) -> subprocess.CompletedProcess[str]:
            code = "import sys, app.cli; print(app.__file__, file=sys.stderr); app.cli.main()"
            return subprocess.run([sys.executable, "-c", code, *args], cwd=elsewhere, env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip

        migrated = vafa("migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stderr.startswith(str(site / "app" / "__init__.py"))
        assert f"database is up to date ({elsewhere / 'vafa.db'})" in migrated.stderr
        head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
        with sqlite3.connect(elsewhere / "vafa.db") as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
        listed = vafa("shop", "list")
        assert listed.returncode == 0, listed.stderr


class TestLockFile:
    def test_every_dependency_is_pinned_with_hashes(self) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())
        wanted = {_name(d) for d in project["project"]["dependencies"]}
        wanted |= {_name(d) for d in project["dependency-groups"]["build"]}
        lock = (ROOT / "requirements.lock").read_text()
        pinned = {_name(m) for m in re.findall(r"^([A-Za-z0-9._-]+)==", lock, re.MULTILINE)}
        missing = wanted - pinned
        assert not missing, f"not in requirements.lock (run `make lock`): {sorted(missing)}"
        blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2].strip())
        assert all("--hash=sha256:" in block for block in blocks)
