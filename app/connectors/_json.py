"""Typed access to untyped webhook JSON, shared by every connector.

Each getter takes ``where``, the dotted path of the object it reads (``"order.line_items[0]"``),
so an :class:`InvalidPayload` names the exact field that is wrong. Missing keys and JSON ``null``
read as ``None``; a value of the wrong type is an error, never silently coerced.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from app.errors import InvalidPayload
from app.limits import EARLIEST_TIME, LATEST_TIME, MAX_AMOUNT_MINOR, MAX_ID_LENGTH, MAX_QUANTITY
from app.money import MoneyError, to_minor

JsonObj = Mapping[str, object]


def require_obj(value: object, where: str) -> JsonObj:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{where} must be a JSON object, got {_kind(value)}")
    return value


# The getters below check before they format a path: an order touches hundreds of fields, and
# building every path eagerly cost more than the checks themselves (a third of parsing time).


def get_obj(obj: JsonObj, key: str, where: str) -> JsonObj | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    return require_obj(value, f"{where}.{key}")


def get_objs(obj: JsonObj, key: str, where: str) -> list[JsonObj]:
    """A list of objects; missing or null reads as empty."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{where}.{key} must be a list, got {_kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            require_obj(item, f"{where}.{key}[{i}]")
    return value


def get_str(obj: JsonObj, key: str, where: str, *, max_length: int | None = None) -> str | None:
    """A string; with ``max_length``, one Vafa stores, so it must fit its column and hold no NUL
    (PostgreSQL refuses NUL in text: found here, the event is rejected, not retried forever)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"{where}.{key} must be a string, got {_kind(value)}")
    if max_length is not None:
        check_stored(value, f"{where}.{key}", max_length)
    return value


def check_stored(value: str, where: str, max_length: int) -> str:
    if "\x00" in value:
        raise InvalidPayload(f"{where} contains a NUL character")
    if len(value) > max_length:
        raise InvalidPayload(f"{where} is {len(value)} characters long, more than {max_length}")
    return value


def require_str(obj: JsonObj, key: str, where: str) -> str:
    value = get_str(obj, key, where)
    if not value:
        raise InvalidPayload(f"{where}.{key} is missing")
    return value


def get_text(obj: JsonObj, key: str, where: str, *, max_length: int) -> str | None:
    """A human-facing text such as a name: blank reads as ``None`` (WooCommerce sends ``""``)."""
    value = get_str(obj, key, where, max_length=max_length)
    return value if value and value.strip() else None


def require_currency(obj: JsonObj, key: str, where: str) -> str:
    """An ISO 4217 code: three letters, upper-cased."""
    value = require_str(obj, key, where).strip().upper()
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise InvalidPayload(f"{where}.{key}: {value[:40]!r} is not a three-letter currency code")
    return value


def get_count(obj: JsonObj, key: str, where: str, *, default: int) -> int:
    """A quantity: a whole number from 0 to MAX_QUANTITY (``default`` when absent)."""
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidPayload(f"{where}.{key}: {value!r} is not a whole number")
    if value > MAX_QUANTITY:
        raise InvalidPayload(f"{where}.{key}: {value} is more than {MAX_QUANTITY:,} units")
    return value


def get_bool(obj: JsonObj, key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise InvalidPayload(f"{where}.{key} must be true or false, got {_kind(value)}")


def get_optional_id(obj: JsonObj, key: str, where: str) -> str | None:
    """A resource id (platforms send integers; a string is accepted) as a string."""
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int subclass: ``true`` is not an id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return check_stored(value.strip(), f"{where}.{key}", MAX_ID_LENGTH)
    raise InvalidPayload(f"{where}.{key} must be an integer or string id, got {_kind(value)}")


def get_id(obj: JsonObj, key: str, where: str) -> str:
    value = get_optional_id(obj, key, where)
    if value is None:
        raise InvalidPayload(f"{where}.{key} is missing")
    return value


def get_amount_minor(
    obj: JsonObj, key: str, exponent: int, where: str, *, signed: bool = False
) -> int | None:
    """A decimal amount as integer minor units, or ``None`` when absent.

    Amounts should be decimal strings. A JSON number (Shopify's numeric ``subtotal``) goes through
    ``str()`` of the parsed value, which is the shortest text that reads back as the same float,
    i.e. what the platform wrote, so no binary-float arithmetic ever touches money.

    An amount is at most MAX_AMOUNT_MINOR either way, and never negative unless ``signed`` (a
    price, a discount, a refunded subtotal below zero would turn into points).
    """
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidPayload(f"{where}.{key} must be a decimal amount, got {_kind(value)}")
    try:
        minor = to_minor(str(value), exponent)
    # ArithmeticError: Decimal signals InvalidOperation for amounts too large to quantize.
    except (MoneyError, ArithmeticError) as exc:
        raise InvalidPayload(f"{where}.{key}: {value!r} is not a decimal amount") from exc
    if minor < 0 and not signed:
        raise InvalidPayload(f"{where}.{key}: {value!r} is negative, which it cannot be")
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise InvalidPayload(f"{where}.{key}: {value!r} is beyond the amounts Vafa accepts")
    return minor


def require_amount_minor(
    obj: JsonObj, key: str, exponent: int, where: str, *, signed: bool = False
) -> int:
    value = get_amount_minor(obj, key, exponent, where, signed=signed)
    if value is None:
        raise InvalidPayload(f"{where}.{key} is missing")
    return value


def parse_datetime(value: object, where: str, *, assume_utc: bool = False) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (``None`` stays ``None``).

    A timestamp without an offset is UTC when ``assume_utc`` (WooCommerce ``*_gmt`` fields);
    otherwise it is rejected, because guessing its zone could let stale data look newer.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"{where} must be an ISO 8601 timestamp, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            if not assume_utc:
                raise InvalidPayload(f"{where}: {value!r} has no timezone offset")
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    # OverflowError: an offset that takes the time past year 1 or 9999.
    except (ValueError, OverflowError) as exc:
        raise InvalidPayload(f"{where}: {value!r} is not an ISO 8601 timestamp") from exc
    if not EARLIEST_TIME <= parsed <= LATEST_TIME:
        raise InvalidPayload(f"{where}: {value!r} is outside the times Vafa accepts")
    return parsed


def get_datetime(
    obj: JsonObj, key: str, where: str, *, assume_utc: bool = False
) -> datetime | None:
    return parse_datetime(obj.get(key), f"{where}.{key}", assume_utc=assume_utc)


def _kind(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
