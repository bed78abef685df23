"""app.money: decimal strings to integer minor units, and currency exponents."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.money import MoneyError, currency_exponent, from_minor, to_minor


@pytest.mark.parametrize(
    ("amount", "exponent", "minor"),
    [
        ("181.09", 2, 18109),
        ("20", 0, 20),  # JPY-style: no minor digits
        ("20.00", 0, 20),
        ("1.234", 3, 1234),  # KWD-style: three
        ("-10.00", 2, -1000),  # WooCommerce refund totals are negative
        (" 5.5 ", 2, 550),
        (7, 2, 700),
        (Decimal("0.10"), 2, 10),
        ("1.005", 2, 100),  # 100.5 → half to even → 100
        ("1.015", 2, 102),  # 101.5 → half to even → 102
    ],
)
def test_to_minor(amount: str | int | Decimal, exponent: int, minor: int) -> None:
    assert to_minor(amount, exponent) == minor


@pytest.mark.parametrize("amount", ["abc", "", "1,5", "NaN", "Infinity", "-inf"])
def test_to_minor_rejects_non_amounts(amount: str) -> None:
    with pytest.raises(MoneyError):
        to_minor(amount, 2)


def test_to_minor_rejects_float() -> None:
    with pytest.raises(MoneyError, match="float"):
        to_minor(0.1, 2)  # type: ignore[arg-type]


def test_to_minor_rejects_absurdly_large_amount_as_money_error() -> None:
    with pytest.raises(MoneyError):
        to_minor("1e40", 2)


def test_to_minor_rejects_underscores() -> None:
    with pytest.raises(MoneyError):
        to_minor("1_000", 2)


def test_from_minor_round_trips() -> None:
    assert from_minor(18109, 2) == Decimal("181.09")
    assert to_minor(from_minor(18109, 2), 2) == 18109


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("USD", 2),
        ("usd", 2),
        ("JPY", 0),
        ("jpy", 0),
        ("KWD", 3),
        ("CLF", 4),
        ("IRR", 0),
        ("XYZ", 2),
    ],
)
def test_currency_exponent_defaults(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_shop_override_wins() -> None:
    assert currency_exponent("IRR", {"IRR": 0}) == 0
    assert currency_exponent("irr", {"IRR": 2}) == 2
    assert currency_exponent("USD", {"USD": 0}) == 0
    assert currency_exponent("EUR", {"IRR": 0}) == 2  # overrides touch only their own code


@given(
    st.integers(0, 6).flatmap(
        lambda places: st.decimals(allow_nan=False, allow_infinity=False, places=places)
    ),
    st.sampled_from([-1, 0, 2, 3, 4, 5, 14]),
)
def test_to_minor_agrees_with_decimal_rounding_half_even(value: Decimal, exponent: int) -> None:
    # Plain amounts are read from their digits; this checks it gives what Decimal gives.
    text = f"{value:f}"
    try:
        expected = int(value.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except ArithmeticError:
        with pytest.raises(MoneyError):
            to_minor(text, exponent)
        return
    assert to_minor(text, exponent) == expected
