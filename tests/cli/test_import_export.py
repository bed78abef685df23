"""`vafa import members` and `vafa export members|ledger`: what an owner moving from another
loyalty program runs. Opening balances land once however often the file is imported, refused
rows say their line and why, a dry run writes nothing, and the ledger stays balanced."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from app.members.balances import balance_in
from app.state import AppState
from tests.cli.test_cli import _fresh
from tests.cli.test_shop_commands import _add_shopify, _vafa

VAFA_FILE = (
    "customer_id,email,first_name,last_name,points,birthday\n"
    "1001,Sara@Example.com,Sara,Ahmadi,1200,1990-03-21\n"
    "1002,reza@example.com,Reza,,0,\n"
    "1003,,,,35,\n"
    '1004,bad@example.com,,,"1,200",\n'  # a comma in the number: refused, not 1
    ",,,,10,\n"  # nobody
    "1001,Sara@Example.com,Sara,Ahmadi,1200,1990-03-21\n"  # twice in one file
)


def _import(tmp_path: Path, shop: int, text: str, *extra: str) -> dict[str, Any]:
    path = tmp_path / "members.csv"
    path.write_text(text, encoding="utf-8")
    result = _vafa("import", "members", str(path), "--shop", str(shop), *extra)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _members(shop: int) -> dict[str, dict[str, str]]:
    result = _vafa("export", "members", "--shop", str(shop))
    assert result.exit_code == 0, result.output
    return {row["customer_id"]: row for row in csv.DictReader(io.StringIO(result.stdout))}


def test_a_vafa_file_imports_once_and_says_what_it_refused(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    report = _import(tmp_path, shop, VAFA_FILE)
    assert (report["format"], report["rows"], report["imported"]) == ("vafa", 6, 3)
    assert report["points_imported"] == 1235
    assert [(r["line"], r["reason"][:30]) for r in report["refused"]] == [
        (5, "points '1,200' is not a whole "),
        (6, "no customer id and no e-mail: "),
        (7, "this member appears earlier in"),
    ]
    members = _members(shop)
    assert members["1001"]["available"] == "1200"
    assert members["1001"]["email"] == "sara@example.com"
    assert members["1001"]["birthday"] == "1990-03-21"
    assert members["1002"]["available"] == "0"
    assert members["1003"]["available"] == "35"

    again = _import(tmp_path, shop, VAFA_FILE)
    assert (again["imported"], again["points_imported"]) == (0, 0)
    assert again["unchanged"] == 3  # 1002's opening balance of 0 included
    assert _members(shop)["1001"]["available"] == "1200"
    verify = _vafa("ledger", "verify")
    assert verify.exit_code == 0, verify.output


def test_a_smile_file_finds_members_by_email(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    _import(tmp_path, shop, "customer_id,email,points\n2001,nima@example.com,500\n"
            "2002,omid@example.com,0\n")  # fmt: skip
    report = _import(tmp_path, shop, "email,points\nNIMA@example.com,500\nomid@example.com,70\n"
                     "ghost@example.com,9\n")  # fmt: skip
    assert report["format"] == "smile"
    assert (report["imported"], report["unchanged"]) == (0, 1)  # 2001, found by e-mail
    assert report["refused"] == [
        # An opening balance of 0 is one: a later file does not give another.
        {"line": 3, "reason": "an opening balance of 0 was imported for this member already"},
        {"line": 4, "reason": "no member of this shop has that e-mail (or several do)"},
    ]
    members = _members(shop)
    assert (members["2001"]["available"], members["2002"]["available"]) == ("500", "0")


async def test_a_member_the_store_sent_gets_their_opening_balance_by_email(
    state: AppState,
) -> None:
    """Smile's file names members by e-mail: one Vafa knows from the store (its webhooks, the
    backfill), with no opening balance yet, gets it once."""
    from app.imports.members import import_members
    from app.members.models import Member
    from app.shops import service as shops

    async with state.db.write() as session:
        shop = await shops.add_shopify(session, state.vault, domain="smile.myshopify.com",
                                       access_token="t", api_secret="s")  # fmt: skip
        session.add(Member(shop_id=shop.shop_id, customer_id="2001", email="nima@example.com"))
    text = "email,points\nNIMA@example.com,500\n"
    report = await import_members(state.db, shop.shop_id, text)
    assert (report.format, report.imported, report.points, report.refused) == ("smile", 1, 500, [])
    again = await import_members(state.db, shop.shop_id, text)
    assert (again.imported, again.unchanged) == (0, 1)
    async with state.db.read() as session:
        assert (await balance_in(session, shop.shop_id, "2001")).available == 500


def test_another_opening_balance_for_the_same_member_is_refused(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    _import(tmp_path, shop, "customer_id,points\n3001,100\n")
    report = _import(tmp_path, shop, "customer_id,points\n3001,999\n")
    assert report["imported"] == 0
    assert "opening balance of 100 was imported" in report["refused"][0]["reason"]
    assert _members(shop)["3001"]["available"] == "100"


def test_a_dry_run_checks_everything_and_writes_nothing(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    refused = tmp_path / "refused.csv"
    report = _import(tmp_path, shop, VAFA_FILE, "--dry-run", "--refused", str(refused))
    assert report["dry_run"] is True
    assert report["imported"] == 3
    assert _members(shop) == {}
    assert refused.read_text().splitlines()[0] == "line,reason"
    assert len(refused.read_text().splitlines()) == 4


def test_a_wployalty_file_is_recognised(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    _import(tmp_path, shop, "customer_id,email,points\n4001,ana@example.com,70\n")
    report = _import(tmp_path, shop, "email,points,referral_code\nana@example.com,70,ANA70\n")
    assert (report["format"], report["unchanged"], report["refused"]) == ("wployalty", 1, [])


def test_an_unknown_file_is_refused_with_the_formats_it_could_be(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    path = tmp_path / "members.csv"
    path.write_text("name,balance\nx,1\n")
    result = _vafa("import", "members", str(path), "--shop", str(shop))
    assert result.exit_code == 1
    assert "Smile.io's (email, points)" in result.output


def test_the_ledger_export_has_every_line(env: str, tmp_path: Path) -> None:
    _fresh(env)
    shop = _add_shopify()["shop_id"]
    _import(tmp_path, shop, VAFA_FILE)
    result = _vafa("export", "ledger", "--shop", str(shop))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted((r["customer_id"], r["points"], r["reason"]) for r in rows) == [
        ("1001", "1200", "opening balance, imported"),
        ("1003", "35", "opening balance, imported"),
    ]
