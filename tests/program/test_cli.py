"""`vafa program show|set`: the operator's view of a shop's program and a new version from a
file, refused field by field when it is not valid."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import env  # noqa: F401  (the operator's environment)
from tests.cli.test_cli import _fresh
from tests.cli.test_shop_commands import _add_shopify, _vafa


def test_show_then_set_then_show(env: str, tmp_path: Path) -> None:  # noqa: F811
    _fresh(env)
    shop = str(_add_shopify()["shop_id"])
    shown = _vafa("program", "show", "--shop", shop)
    assert shown.exit_code == 0, shown.output
    first = json.loads(shown.stdout)
    assert (first["version"], first["document"]["rules"][0]["key"]) == (1, "purchase")

    program = tmp_path / "program.json"
    program.write_text(json.dumps({"rules": [
        {"key": "purchase", "type": "purchase", "points": 50, "per_minor": 500000},
        {"key": "welcome", "type": "first_order", "points": 50}]}))  # fmt: skip
    made = _vafa("program", "set", "--shop", shop, str(program),
                 "--effective-at", "2031-01-01T00:00:00+00:00")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["version"] == 2
    assert "version 2 published" in made.stderr
    again = _vafa("program", "set", "--shop", shop, str(program))
    assert again.exit_code == 0, again.output
    assert "nothing new was made" in again.stderr

    every = json.loads(_vafa("program", "show", "--shop", shop, "--all").stdout)
    assert [v["version"] for v in every["versions"]] == [1, 2]
    assert every["versions"][1]["effective_at"] == "2031-01-01T00:00:00Z"


def test_an_invalid_file_names_the_field_and_changes_nothing(
    env: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    _fresh(env)
    shop = str(_add_shopify()["shop_id"])
    program = tmp_path / "program.json"
    program.write_text(json.dumps({"rules": [{"key": "n", "type": "nth_order", "every": 1,
                                              "points": 5}]}))  # fmt: skip
    result = _vafa("program", "set", "--shop", shop, str(program))
    assert result.exit_code == 1
    assert "rules.0.nth_order.every" in result.stderr
    assert "nothing was changed" in result.stderr
    assert json.loads(_vafa("program", "show", "--shop", shop).stdout)["version"] == 1
    missing = _vafa("program", "show", "--shop", "999")
    assert (missing.exit_code, "no shop 999" in missing.stderr) == (1, True)
