"""A program's rules in a sentence each, as the owner would say them, in fa or en."""

from __future__ import annotations

from decimal import Decimal

from app.admin import i18n
from app.money import currency_exponent
from app.program.document import (
    BadgeRule,
    CampaignRule,
    EventRule,
    NthOrderRule,
    ProgramDocument,
    PurchaseRule,
    ReferralRule,
    Rule,
    SpendGoalRule,
)


def percent(share: Decimal | None, lang: str) -> str:
    """A share (0.0123) as a percentage to two places (1.23%)."""
    if share is None:
        return "—"
    text = f"{share * 100:.2f}"
    return (
        f"{text.translate(str.maketrans('0123456789.', '۰۱۲۳۴۵۶۷۸۹٫'))}٪"
        if lang == "fa"
        else f"{text}%"
    )


def _decimal(value: Decimal, lang: str) -> str:
    text = format(value.normalize(), "f")
    return text.translate(str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")) if lang == "fa" else text


def _money(minor: int, document: ProgramDocument, lang: str) -> str:
    currency = document.currency
    if currency is None:
        return i18n.WORDS[lang]["pw_minor"].format(n=i18n.number(minor, lang))
    exponent = currency_exponent(currency, document.currency_exponents)
    return i18n.money(minor, exponent, currency, lang)


def _units(units: int, document: ProgramDocument, lang: str) -> str:
    """Whole units of the shop's currency, in its name ("10,000 Rial")."""
    if document.currency is None:
        return f"{i18n.number(units, lang)} {i18n.WORDS[lang]['pw_unit']}"
    exponent = currency_exponent(document.currency, document.currency_exponents)
    return i18n.money(units * 10**exponent, exponent, document.currency, lang)


def _points(points: int, lang: str) -> str:
    """In words: 1 point, 2 points (Persian counts with the singular either way)."""
    key = "pw_point" if points == 1 else "pw_points"
    return i18n.WORDS[lang][key].format(n=i18n.number(points, lang))


def _grant(points: int | None, reward_id: int | None, lang: str) -> str:
    if points is not None:
        return _points(points, lang)
    return i18n.WORDS[lang]["pw_reward"].format(n=i18n.number(reward_id or 0, lang))


def describe(rule: Rule, document: ProgramDocument, lang: str) -> str:
    """``rule`` in words: what earns what."""
    words = i18n.WORDS[lang]

    def n(value: int) -> str:
        return i18n.number(value, lang)

    text: str
    if isinstance(rule, PurchaseRule):
        if rule.per_minor is not None:
            per = _money(rule.per_minor, document, lang)
        else:
            per = _units(rule.per_units, document, lang)
        text = words["pw_purchase"].format(points=_points(rule.points, lang), per=per)
    elif isinstance(rule, CampaignRule):
        effects = []
        if rule.multiplier is not None:
            effects.append(words["pw_times"].format(x=_decimal(rule.multiplier, lang)))
        if rule.bonus is not None:
            effects.append(words["pw_bonus"].format(points=_points(rule.bonus, lang)))
        zone = document.timezone
        text = words["pw_campaign"].format(
            start=i18n.when(rule.starts_at, lang, zone), end=i18n.when(rule.ends_at, lang, zone),
            effects=words["pw_and"].join(effects),
        )  # fmt: skip
    elif isinstance(rule, ReferralRule):
        advocate = _grant(rule.advocate_points, rule.advocate_reward_id, lang) if (
            rule.advocate_points or rule.advocate_reward_id) else words["pw_nothing"]  # fmt: skip
        friend = _grant(rule.friend_points, rule.friend_reward_id, lang) if (
            rule.friend_points or rule.friend_reward_id) else words["pw_nothing"]  # fmt: skip
        text = words["pw_referral"].format(advocate=advocate, friend=friend)
    elif isinstance(rule, BadgeRule):
        name = (rule.names.fa if lang == "fa" else rule.names.en) or rule.names.en or ""
        name = name or rule.names.fa or ""
        goal = (
            _money(rule.amount_minor, document, lang)
            if rule.metric == "spend" and rule.amount_minor
            else n(rule.count or 0)
        )
        text = words["pw_badge"].format(name=name, goal=goal, metric=words[f"opt_{rule.metric}"])
        if rule.points is not None or rule.reward_id is not None:
            text += " — " + _grant(rule.points, rule.reward_id, lang)
    else:
        grant = _grant(rule.points, rule.reward_id, lang)
        if isinstance(rule, NthOrderRule):
            text = words["pw_nth_order"].format(grant=grant, every=n(rule.every))
        elif isinstance(rule, SpendGoalRule):
            text = words["pw_spend_goal"].format(
                grant=grant, amount=_money(rule.amount_minor, document, lang),
                period=words[f"opt_{rule.period}"],
            )  # fmt: skip
        elif isinstance(rule, EventRule):
            text = words["pw_event"].format(grant=grant, event=rule.event)
        else:
            text = words[f"pw_{rule.type}"].format(grant=grant)
    if not rule.active:
        text += " " + words["pw_off"]
    return text
