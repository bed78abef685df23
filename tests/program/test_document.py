# ruff: noqa: E501  (the table of mistakes reads best one case to a line)
"""The program document: the contract's example is valid, each part's mistakes are refused with
the place they are at, and versions take effect forward only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.db import Database
from app.errors import ValidationFailed
from app.program import versions
from app.program.document import DEFAULT_DOCUMENT, ProgramDocument, from_settings
from app.program.settings import ProgramSettings
from tests.conftest import ShopifyShop

CONTRACT_EXAMPLE: dict[str, Any] = {
    "rules": [
        {"key": "purchase", "type": "purchase", "points": 50, "per_minor": 5000000},
        {"key": "welcome", "type": "first_order", "points": 50},
        {"key": "third", "type": "nth_order", "every": 3, "reward_id": 4},
        {"key": "birthday", "type": "birthday", "reward_id": 3},
        {"key": "review", "type": "event", "event": "review", "points": 20, "max_per_member": 5},
        {"key": "double", "type": "campaign", "multiplier": 2,
         "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-08T00:00:00Z"},
    ],
    "tiers": {"basis": "points_earned", "window": "lifetime",
              "levels": [{"key": "bronze", "threshold": 0, "names": {"fa": "برنزی", "en": "Bronze"}},
                         {"key": "silver", "threshold": 1000, "multiplier": 1.25,
                          "names": {"fa": "نقره‌ای", "en": "Silver"}}]},
    "hold_days": 0, "expiry_days": None, "allow_negative_balance": True,
}  # fmt: skip


def test_the_contract_example_is_a_valid_document_and_round_trips() -> None:
    document = ProgramDocument.model_validate(CONTRACT_EXAMPLE)
    assert document.tiers is not None
    assert document.tiers.levels[1].multiplier == Decimal("1.25")
    assert ProgramDocument.model_validate(document.to_json()) == document


def _error_at(data: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        ProgramDocument.model_validate(data)
    first = caught.value.errors()[0]
    return tuple(first["loc"]), first["msg"]


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        ({"rules": [{"key": "p", "type": "purchase", "points": 0}]}, ("rules", 0, "purchase", "points"), "greater than or equal to 1"),
        ({"rules": [{"key": "p", "type": "bogus"}]}, ("rules", 0), "does not match any of the expected tags"),
        ({"rules": [{"key": "n", "type": "nth_order", "every": 3}]}, ("rules", 0, "nth_order"), "exactly one of points or reward_id"),
        ({"rules": [{"key": "c", "type": "campaign", "multiplier": 2, "starts_at": "2026-12-08T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z"}]}, ("rules", 0, "campaign"), "ends_at must be after starts_at"),
        ({"rules": [{"key": "c", "type": "campaign", "multiplier": 2, "starts_at": "2026-12-01T00:00:00", "ends_at": "2026-12-08T00:00:00Z"}]}, ("rules", 0, "campaign", "starts_at"), "UTC offset"),
        ({"rules": [{"key": "a", "type": "first_order", "points": 1}, {"key": "a", "type": "signup", "points": 1}]}, (), "rule keys must be unique: a"),
        ({"tiers": {"levels": [{"key": "b", "threshold": 5, "names": {"en": "B"}}]}}, ("tiers", "levels"), "threshold must be 0"),
        ({"tiers": {"levels": [{"key": "b", "threshold": 0, "names": {"en": "B"}}, {"key": "s", "threshold": 0, "names": {"en": "S"}}]}}, ("tiers", "levels"), "must increase"),
        ({"timezone": "Mars/Olympus"}, ("timezone",), "unknown time zone"),
        ({"unknown_field": 1}, ("unknown_field",), "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_mistake_is_refused_where_it_is(
    change: dict[str, Any], where: tuple[str | int, ...], says: str
) -> None:
    loc, message = _error_at({**CONTRACT_EXAMPLE, **change})
    assert loc == where
    assert says in message


def test_the_default_document_is_the_default_program_of_the_design() -> None:
    assert from_settings(ProgramSettings()) == DEFAULT_DOCUMENT
    tenth = from_settings(ProgramSettings(points_per_unit=Decimal("0.1"), hold_days=14))
    rule = tenth.rules[0]
    assert (rule.type, rule.points, rule.per_units) == ("purchase", 1, 10)  # type: ignore[union-attr]
    assert tenth.policies() == ProgramSettings(hold_days=14)  # points_per_unit is the rule's now


async def test_versions_take_effect_forward_only(db: Database, shopify_shop: ShopifyShop) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    async with db.write() as session:
        history = await versions.load(session, shopify_shop.shop_id)
        assert [v.version for v in history.versions] == [1]
        assert history.latest.document == DEFAULT_DOCUMENT

        second = ProgramDocument.model_validate(CONTRACT_EXAMPLE)
        published = await versions.publish(session, shopify_shop.shop_id, second, now)
        assert published.version == 2
        later = now + timedelta(days=7)
        third = await versions.publish(session, shopify_shop.shop_id, DEFAULT_DOCUMENT, now, later)
        with pytest.raises(ValidationFailed, match="in the past"):
            await versions.publish(session, shopify_shop.shop_id, second, now, now - timedelta(1))
        with pytest.raises(ValidationFailed, match="before version 3"):
            await versions.publish(session, shopify_shop.shop_id, second, now, now + timedelta(1))

    async with db.read() as session:
        history = await versions.load(session, shopify_shop.shop_id)
    assert [v.version for v in history.versions] == [1, 2, 3]
    assert history.at(now - timedelta(seconds=1)).version == 1  # paid before the change
    assert history.at(now).version == 2
    assert history.at(later - timedelta(seconds=1)).version == 2
    assert history.at(later).version == third.version == 3
    assert history.at(None).version == 3
