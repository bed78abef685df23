"""A command run against the wrong database says so in one line, and creates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from typer.testing import CliRunner, Result

from app.cli import cli
from app.config import get_settings
from app.schema import alembic_config
from tests.cli.test_cli import _sql
from tests.conftest import SECRET_KEY

runner = CliRunner()

# Every command that reads or writes the database, with arguments that would otherwise work.
DATABASE_COMMANDS = [
    ["shop", "list"],
    ["shop", "show", "1"],
    ["shop", "disable", "1"],
    ["shop", "settings", "1"],
    ["shop", "add-shopify", "--domain", "a.myshopify.com", "--access-token", "t",
     "--api-secret", "s"],
    ["ledger", "verify"],
    ["events", "list"],
    ["serve"],
    ["worker"],
]  # fmt: skip


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An operator in some other directory, with the default database URL (./vafa.db)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VAFA_DATABASE_URL", raising=False)
    monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _use(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAFA_DATABASE_URL", url)
    monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()


def _tables(url: str) -> set[object]:
    if url.startswith("sqlite"):
        return {name for (name,) in _sql(url, "SELECT name FROM sqlite_master")}
    return {
        name for (name,) in _sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


class TestMissingSqliteFile:
    @pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
    def test_names_the_file_it_looked_for_and_creates_nothing(
        self, elsewhere: Path, args: list[str]
    ) -> None:
        line = _one_line_error(runner.invoke(cli, args))
        assert str(elsewhere / "vafa.db") in line
        assert "vafa migrate" in line
        assert "VAFA_DATABASE_URL" in line
        assert list(elsewhere.iterdir()) == []

    def test_migrate_creates_it_and_then_commands_work(self, elsewhere: Path) -> None:
        migrated = runner.invoke(cli, ["migrate"])
        assert migrated.exit_code == 0, migrated.output
        assert str(elsewhere / "vafa.db") in migrated.output
        listed = runner.invoke(cli, ["shop", "list"])
        assert listed.exit_code == 0, listed.output
        assert "shop_id" in listed.output

    def test_help_needs_no_database(self, elsewhere: Path) -> None:
        result = runner.invoke(cli, ["shop", "list", "--help"])
        assert result.exit_code == 0, result.output
        assert "List shops" in result.output
        assert list(elsewhere.iterdir()) == []


class TestNotMigrated:
    def test_an_empty_database_is_not_migrated(
        self, empty_database: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if empty_database.startswith("sqlite"):
            _sql(empty_database, "CREATE TABLE unrelated (x INTEGER)")  # the file exists
        _use(empty_database, monkeypatch)
        for args in (["shop", "list"], ["ledger", "verify"], ["worker"], ["serve"]):
            line = _one_line_error(runner.invoke(cli, args))
            assert "is not migrated (run `vafa migrate`)" in line, args
        assert _tables(empty_database) == ({"unrelated"} if "sqlite" in empty_database else set())

    def test_a_schema_behind_head_is_not_migrated(
        self, empty_database: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        config = alembic_config(empty_database)
        first = list(ScriptDirectory.from_config(config).walk_revisions())[-1].revision
        command.upgrade(config, first)
        _use(empty_database, monkeypatch)
        line = _one_line_error(runner.invoke(cli, ["shop", "list"]))
        assert "is not migrated (run `vafa migrate`)" in line
        assert runner.invoke(cli, ["migrate"]).exit_code == 0
        assert runner.invoke(cli, ["shop", "list"]).exit_code == 0

    def test_a_schema_from_a_newer_vafa_is_named(
        self, empty_database: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        command.upgrade(alembic_config(empty_database), "head")
        _sql(empty_database, "UPDATE alembic_version SET version_num = 'f00d'")
        _use(empty_database, monkeypatch)
        line = _one_line_error(runner.invoke(cli, ["shop", "list"]))
        assert "at revision f00d, which this version of vafa does not know" in line


class TestUnreachableServer:
    def test_a_refused_connection_is_one_line_without_the_password(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Port 1 on the loopback: nothing listens there, so the connection is refused at once.
        _use("postgresql+asyncpg://vafa:hunter2@127.0.0.1:1/vafa", monkeypatch)
        for args in (["shop", "list"], ["worker"], ["migrate"]):
            line = _one_line_error(runner.invoke(cli, args))
            assert "127.0.0.1:1/vafa" in line, args
            assert "hunter2" not in line

    def test_a_database_that_does_not_exist_is_one_line(
        self, empty_database: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if empty_database.startswith("sqlite"):
            url = empty_database.replace("empty.db", "no/such/dir/vafa.db")
            _use(url, monkeypatch)
            line = _one_line_error(runner.invoke(cli, ["migrate"]))
            assert "there is no directory" in line
            assert "no/such/dir" in line
            return
        _use(empty_database.rsplit("/", 1)[0] + "/vafa_no_such_database", monkeypatch)
        line = _one_line_error(runner.invoke(cli, ["shop", "list"]))
        assert 'database "vafa_no_such_database" does not exist' in line


class TestVersion:
    def test_version_is_the_installed_package_version(self) -> None:
        result = runner.invoke(cli, ["--version"])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"vafa {version('vafa')}\n"
