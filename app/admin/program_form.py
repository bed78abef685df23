"""The program document as an HTML form and back: every field is named by its path in the
document (``rules.0.points``, ``tiers.levels.1.threshold``, ``hold_days``), so a pydantic
error's ``loc`` names the field it is shown beside.

The form's state is a flat ``{path: text}`` mapping, the same whether it came from a stored
document or from what the owner typed (which may not validate yet). Fields with no input of
their own (a purchase rule's multipliers and exclusions, the membership, currency exponents)
travel in a hidden ``…_extra`` JSON field beside their section, so a save never loses them.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from app.admin import i18n
from app.program.document import (
    BadgeRule,
    BirthdayRule,
    CampaignRule,
    EventRule,
    FirstOrderRule,
    Leaderboard,
    Names,
    NthOrderRule,
    Period,
    ProgramDocument,
    PurchaseRule,
    ReferralRule,
    SignupRule,
    SpendGoalRule,
    TierLevel,
    Tiers,
)

RULE_MODELS: dict[str, type[BaseModel]] = {
    "purchase": PurchaseRule, "first_order": FirstOrderRule, "nth_order": NthOrderRule,
    "spend_goal": SpendGoalRule, "signup": SignupRule, "birthday": BirthdayRule,
    "event": EventRule, "campaign": CampaignRule, "referral": ReferralRule, "badge": BadgeRule,
}  # fmt: skip
RULE_TYPES = tuple(RULE_MODELS)
# The document's own fields shown as inputs (the rest: the document's ``_extra``).
POLICY_FIELDS = (
    "timezone", "locale", "currency", "point_value_minor", "hold_days", "expiry_days",
    "allow_negative_balance", "refund_expired_codes", "refund_redeemed_points_on_refund",
)  # fmt: skip
EXTRA = "_extra"
TIERS_ON = "tiers._on"  # "1": the program has tiers (the section's fields are read)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٬،", "01234567890123456789,,")
_INDEX = re.compile(r"^(rules|tiers\.levels)\.(\d+)\.(.+)$")


@dataclass(frozen=True, slots=True)
class Field:
    """One input: its path below its section, its kind and, for a choice, the options."""

    name: str
    kind: Literal["text", "int", "decimal", "bool", "choice", "time", "list"]
    options: tuple[str, ...] = ()
    optional: bool = False


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The annotation without Annotated and None; and whether None was allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            if len(args) != 1:
                return annotation, optional
            annotation = args[0]
        else:
            return annotation, optional


def fields_of(model: type[BaseModel], only: Iterable[str] | None = None) -> list[Field]:
    """The inputs of ``model``'s fields that a form can hold; names and periods as two each."""
    out: list[Field] = []
    names = list(only) if only is not None else list(model.model_fields)
    for name in names:
        if name == "type":
            continue
        info = model.model_fields[name]
        kind, optional = _plain(info.annotation)
        optional = optional or not info.is_required()
        if kind is Names:
            out += [
                Field(f"{name}.fa", "text", optional=True),
                Field(f"{name}.en", "text", optional=True),
            ]
        elif kind is Period:
            out += [
                Field(
                    f"{name}.unit",
                    "choice",
                    get_args(_plain(Period.model_fields["unit"].annotation)[0]),
                    True,
                ),
                Field(f"{name}.count", "int", optional=True),
            ]
        elif kind is bool:
            out.append(Field(name, "bool", optional=optional))
        elif kind is int:
            out.append(Field(name, "int", optional=optional))
        elif kind is Decimal:
            out.append(Field(name, "decimal", optional=optional))
        elif kind is str:
            out.append(Field(name, "text", optional=optional))
        elif kind is datetime:
            out.append(Field(name, "time", optional=optional))
        elif get_origin(kind) is Literal:
            out.append(Field(name, "choice", tuple(str(a) for a in get_args(kind)), optional))
        elif get_origin(kind) is list and _plain(get_args(kind)[0])[0] in (str, int):
            out.append(Field(name, "list", optional=True))
        # Anything else (lists of objects, mappings) has no input: it rides in ``_extra``.
    return out


RULE_FIELDS = {kind: fields_of(model) for kind, model in RULE_MODELS.items()}
TIERS_FIELDS = fields_of(Tiers, [n for n in Tiers.model_fields if n != "levels"])
LEVEL_FIELDS = fields_of(TierLevel)
LEADERBOARD_FIELDS = fields_of(Leaderboard)
DOCUMENT_FIELDS = fields_of(ProgramDocument, POLICY_FIELDS)


def _top(fields: list[Field]) -> set[str]:
    return {f.name.split(".")[0] for f in fields}


# --- document → form ----------------------------------------------------------------------


def _text(value: Any, kind: str, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value in (True, "true") else "false"
    if kind == "list":
        return ", ".join(str(v) for v in value)
    if kind == "time":
        try:
            local = datetime.fromisoformat(str(value)).astimezone(zone)
        except OverflowError:  # year 1 or 9999 has no local time on one side of UTC
            return str(value)
        return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")
    return str(value)


def _put(out: dict[str, str], prefix: str, data: Mapping[str, Any], fields: list[Field],
         zone: ZoneInfo, extra: bool = True) -> None:  # fmt: skip
    for field in fields:
        value: Any = data
        for part in field.name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        out[prefix + field.name] = _text(value, field.kind, zone)
    # Empty lists and mappings are the defaults: nothing to carry.
    rest = {
        k: v for k, v in data.items()
        if k not in _top(fields) and k != "type" and v not in ([], {})
    }  # fmt: skip
    if extra and rest:
        out[prefix + EXTRA] = json.dumps(rest, ensure_ascii=False, sort_keys=True)


def to_form(document: ProgramDocument, zone: ZoneInfo) -> dict[str, str]:
    """The form's fields holding ``document``, times in ``zone``."""
    data = document.to_json()
    out: dict[str, str] = {}
    for n, rule in enumerate(data["rules"]):
        out[f"rules.{n}.type"] = rule["type"]
        _put(out, f"rules.{n}.", rule, RULE_FIELDS[rule["type"]], zone)
    tiers = data.get("tiers")
    out[TIERS_ON] = "1" if tiers else ""
    if tiers:
        _put(out, "tiers.", tiers, TIERS_FIELDS, zone, extra=False)
        for n, level in enumerate(tiers["levels"]):
            _put(out, f"tiers.levels.{n}.", level, LEVEL_FIELDS, zone)
    _put(out, "leaderboard.", data.get("leaderboard", {}), LEADERBOARD_FIELDS, zone)
    top = _top(DOCUMENT_FIELDS) | {"rules", "tiers", "leaderboard"}
    rest = {k: v for k, v in data.items() if k not in top and v not in ([], {})}
    _put(out, "", {k: data.get(k) for k in POLICY_FIELDS}, DOCUMENT_FIELDS, zone, extra=False)
    if rest:
        out[EXTRA] = json.dumps(rest, ensure_ascii=False, sort_keys=True)
    return out


# --- form → document ----------------------------------------------------------------------


def ascii_digits(text: str) -> str:
    """Persian and Arabic digits as ASCII ones: what an owner types on a Persian keyboard."""
    return text.translate(_DIGITS)


def _value(text: str, field: Field, zone: ZoneInfo) -> Any:
    """What pydantic is given for a field's text: most as typed (its own parsing answers),
    digits made ASCII, a local time made aware in the shop's zone, a list split at commas."""
    text = text.strip()
    if field.kind in ("int", "decimal"):
        return text.translate(_DIGITS).replace(",", "").replace("٫", ".")
    if field.kind == "list":
        return [p.strip() for p in text.translate(_DIGITS).split(",") if p.strip()]
    if field.kind == "time":
        try:
            local = datetime.fromisoformat(text.translate(_DIGITS)).replace(tzinfo=zone)
            return local.astimezone(UTC)  # stored in UTC, as every time in Vafa
        except (ValueError, OverflowError):
            return text  # pydantic says what is wrong with it, beside the field
    return text


def _section(values: Mapping[str, str], prefix: str, fields: list[Field], zone: ZoneInfo,
             extra: bool = True) -> dict[str, Any]:  # fmt: skip
    data: dict[str, Any] = {}
    if extra and values.get(prefix + EXTRA, "").strip():
        try:
            loaded = json.loads(values[prefix + EXTRA])
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            data.update(loaded)
    for field in fields:
        text = values.get(prefix + field.name, "")
        if not text.strip():
            continue  # an empty field is left out: the default, or "required" beside it
        head, _, tail = field.name.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = _value(text, field, zone)
        else:
            data[head] = _value(text, field, zone)
    return data


def indices(values: Mapping[str, str], group: str) -> list[int]:
    """The item numbers of ``rules`` or ``tiers.levels`` the form holds, in order."""
    found = {int(m.group(2)) for k in values if (m := _INDEX.match(k)) and m.group(1) == group}
    return sorted(found)


def zone_of(values: Mapping[str, str], fallback: str) -> ZoneInfo:
    """The time zone the form's times are in: the draft's own, once it names a real one (the
    times shown were written in it), else ``fallback`` (the live program's)."""
    for name in (values.get("timezone", "").strip(), fallback):
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            continue
    return ZoneInfo("UTC")


def from_form(values: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """The document's data from the form (to be validated by :class:`ProgramDocument`)."""
    data = _section(values, "", DOCUMENT_FIELDS, zone)
    rules = []
    for n in indices(values, "rules"):
        kind = values.get(f"rules.{n}.type", "")
        fields = RULE_FIELDS.get(kind, [])
        rules.append({"type": kind, **_section(values, f"rules.{n}.", fields, zone)})
    data["rules"] = rules
    if values.get(TIERS_ON):
        tiers = _section(values, "tiers.", TIERS_FIELDS, zone, extra=False)
        tiers["levels"] = [
            _section(values, f"tiers.levels.{n}.", LEVEL_FIELDS, zone)
            for n in indices(values, "tiers.levels")
        ]
        data["tiers"] = tiers
    data["leaderboard"] = _section(values, "leaderboard.", LEADERBOARD_FIELDS, zone)
    return data


def parse(
    values: Mapping[str, str], zone: ZoneInfo
) -> tuple[ProgramDocument | None, list[tuple[str, dict[str, Any]]]]:
    """The document, or its errors as ``(path, pydantic error)`` pairs."""
    try:
        return ProgramDocument.model_validate(from_form(values, zone)), []
    except ValidationError as exc:
        return None, [(path_of(e["loc"]), dict(e)) for e in exc.errors()]


def path_of(loc: tuple[int | str, ...]) -> str:
    """A pydantic ``loc`` as the form's field path: the rules' union tag left out."""
    parts = [str(p) for p in loc]
    if len(parts) > 2 and parts[0] == "rules" and parts[2] in RULE_MODELS:
        del parts[2]
    return ".".join(parts)


# --- editing: items added and removed -------------------------------------------------------


def _items(values: Mapping[str, str], group: str) -> list[dict[str, str]]:
    items: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        if (m := _INDEX.match(key)) and m.group(1) == group:
            items.setdefault(int(m.group(2)), {})[m.group(3)] = value
    return [items[n] for n in sorted(items)]


def _with_items(
    values: Mapping[str, str], group: str, items: list[dict[str, str]]
) -> dict[str, str]:
    out = {k: v for k, v in values.items() if not ((m := _INDEX.match(k)) and m.group(1) == group)}
    for n, item in enumerate(items):
        out.update({f"{group}.{n}.{k}": v for k, v in item.items()})
    return out


def add_rule(values: Mapping[str, str], kind: str) -> dict[str, str]:
    """A new empty rule of ``kind`` at the end, with a key not taken yet."""
    items = _items(values, "rules")
    taken = {item.get("key", "") for item in items}
    key = next(
        k
        for n in range(1, 1000)
        if (k := kind.replace("_", "-") + ("" if n == 1 else f"-{n}")) not in taken
    )
    new = {f.name: "" for f in RULE_FIELDS[kind]} | {"type": kind, "key": key, "active": "true"}
    return _with_items(values, "rules", [*items, new])


def add_level(values: Mapping[str, str]) -> dict[str, str]:
    items = _items(values, "tiers.levels")
    new = {f.name: "" for f in LEVEL_FIELDS}
    if not items:
        new["threshold"] = "0"
    return _with_items({**values, TIERS_ON: "1"}, "tiers.levels", [*items, new])


def remove(values: Mapping[str, str], group: str, n: int) -> dict[str, str]:
    items = _items(values, group)
    return _with_items(values, group, [item for i, item in enumerate(items) if i != n])


# --- errors in words ---------------------------------------------------------------------


def message(error: Mapping[str, Any], lang: str) -> str:
    """A pydantic error as an owner reads it, in ``lang``; the model's own words where no
    better ones are known."""
    words = i18n.WORDS[lang]
    kind = str(error.get("type", ""))
    ctx = {k: (i18n.number(v, lang) if isinstance(v, int) else v)
           for k, v in (error.get("ctx") or {}).items()}  # fmt: skip
    if kind == "value_error":
        said = str(error.get("msg", "")).removeprefix("Value error, ")
        return words.get(value_key(said), said)
    if kind == "string_pattern_mismatch":
        kind = "currency_pattern" if "A-Z" in str(ctx.get("pattern", "")) else "key_pattern"
    template = words.get("pe_" + kind)
    if template is None:
        return str(error.get("msg", ""))
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return str(error.get("msg", ""))


def value_key(said: str) -> str:
    """The WORDS key of a model validator's message, for the ones the admin words itself."""
    return "pv_" + re.sub(r"[^a-z]+", "_", said.lower()).strip("_")
