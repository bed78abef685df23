"""Importing members with their opening balances from CSV.

Formats, told apart by their header row (column names are matched case-insensitively):

- Vafa's own: ``customer_id`` (required), ``points`` (required), ``email``, ``first_name``,
  ``last_name``, ``birthday`` (YYYY-MM-DD);
- Smile.io's points import/export: ``email``, ``points``;
- WPLoyalty's: ``email``, ``points``, ``referral_code`` (the referral code is not carried over:
  Vafa makes its own); its older plugin's ``user_email``, ``points``.

A row named by e-mail only is matched to the member Vafa already knows with that e-mail (the
store's customers arrive with their webhooks or the backfill); one Vafa does not know is
refused, saying so. Each member's opening balance is imported once: it is recorded in
``member_imports`` (0 included) and posted under the key ``import:opening:<customer_id>``, so
running the same file again changes nothing (its rows are reported unchanged), and a second
file giving the same member another opening balance is refused for that row. A dry run checks
every row the same way and writes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import IdempotencyConflict, InvalidRequest
from app.imports.models import MemberImport
from app.ledger import service as ledger
from app.limits import MAX_ADJUSTMENT_POINTS
from app.members import service as members
from app.members.models import Member

BATCH = 500
_CUSTOMER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,200}\.[^@\s]{1,60}$")
FORMATS = {
    "vafa": ("customer_id", "points"),
    "smile": ("email", "points"),
    "wployalty": ("email", "points"),
}
_ALIASES = {"user_email": "email"}


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    customer_id: str | None
    email: str | None
    points: int
    first_name: str | None = None
    last_name: str | None = None
    birthday: date | None = None


@dataclass(slots=True)
class Report:
    format: str
    rows: int = 0
    imported: int = 0
    unchanged: int = 0  # imported before with the same balance
    points: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, why)

    def as_json(self) -> dict[str, object]:
        return {
            "format": self.format, "rows": self.rows, "imported": self.imported,
            "unchanged": self.unchanged, "points_imported": self.points,
            "refused": [{"line": line, "reason": why} for line, why in self.refused],
        }  # fmt: skip


def detect(header: list[str]) -> str:
    names = {_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header}
    if {"customer_id", "points"} <= names:
        return "vafa"
    if {"email", "points"} <= names:
        return "wployalty" if "referral_code" in names else "smile"
    raise InvalidRequest(
        "the header row names no known format: Vafa's (customer_id, points[, email, first_name, "
        "last_name, birthday]), Smile.io's (email, points) or WPLoyalty's (email, points, "
        f"referral_code); found: {', '.join(header) or 'nothing'}"
    )


def read(text: str) -> tuple[str, Iterator[Row | tuple[int, str]]]:
    """The file's format, and its rows: each a Row, or (line, why) for one that is refused."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, [])
    fmt = detect(header)
    names = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    return fmt, _rows(reader, names)


def _rows(reader: Iterable[list[str]], names: list[str]) -> Iterator[Row | tuple[int, str]]:
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(names):
            yield line, f"{len(values)} values for {len(names)} columns"
            continue
        cell = {n: v.strip() for n, v in zip(names, values, strict=False)}
        try:
            yield _row(line, cell)
        except ValueError as exc:
            yield line, str(exc)


def _row(line: int, cell: dict[str, str]) -> Row:
    raw = cell.get("points", "")
    if not re.fullmatch(r"[0-9]{1,13}", raw):
        raise ValueError(f"points {raw!r} is not a whole number of 0 or more (no commas)")
    points = int(raw)
    if points > MAX_ADJUSTMENT_POINTS:
        raise ValueError(f"points {points} is over the limit of {MAX_ADJUSTMENT_POINTS}")
    customer = cell.get("customer_id") or None
    if customer is not None and not _CUSTOMER_ID.match(customer):
        raise ValueError("the customer id is longer than 64 characters or has control characters")
    email = (cell.get("email") or "").lower() or None
    if email is not None and not _EMAIL.match(email):
        raise ValueError("the e-mail address is not one")
    if customer is None and email is None:
        raise ValueError("no customer id and no e-mail: which member is it?")
    birthday = None
    if cell.get("birthday"):
        try:
            birthday = date.fromisoformat(cell["birthday"])
        except ValueError as exc:
            raise ValueError("the birthday is not a date as YYYY-MM-DD") from exc
    return Row(line, customer, email, points, cell.get("first_name") or None,
               cell.get("last_name") or None, birthday)  # fmt: skip


def _key(customer_id: str) -> str:
    return f"import:opening:{customer_id}"


async def _customer_of(session: AsyncSession, shop_id: int, row: Row) -> str | None:
    if row.customer_id is not None:
        return row.customer_id
    found = (
        await session.scalars(
            select(Member.customer_id)
            .where(Member.shop_id == shop_id, func.lower(Member.email) == row.email)
            .limit(2)
        )
    ).all()
    return found[0] if len(found) == 1 else None


async def _apply(
    session: AsyncSession, shop_id: int, row: Row, *, dry_run: bool, report: Report,
    applied: set[str],
) -> None:  # fmt: skip
    customer = await _customer_of(session, shop_id, row)
    if customer is None:
        report.refused.append((row.line, "no member of this shop has that e-mail (or several do)"))
        return
    if customer in applied:  # by id in one row, by e-mail in another
        report.refused.append((row.line, "this member appears earlier in the file"))
        return
    applied.add(customer)
    before = await session.scalar(
        select(MemberImport.points).where(
            MemberImport.shop_id == shop_id, MemberImport.customer_id == customer
        )
    )
    if before is not None:
        if before == row.points:
            report.unchanged += 1
        else:
            report.refused.append(
                (row.line, f"an opening balance of {before} was imported for this member already")
            )
        return
    if dry_run:
        report.imported += 1
        report.points += row.points
        return
    await members.enrol(session, shop_id, [customer])
    member = await session.scalar(
        select(Member).where(Member.shop_id == shop_id, Member.customer_id == customer)
    )
    assert member is not None
    if row.points > 0:
        try:
            await ledger.adjust(session, shop_id, customer, row.points, key=_key(customer),
                                reason="opening balance, imported")  # fmt: skip
        except IdempotencyConflict:  # posted once before with another balance
            report.refused.append((row.line, "an opening balance was imported for this member"))
            return
    # What the file says fills what Vafa does not know yet; a profile from the store wins.
    member.email = member.email or row.email
    member.first_name = member.first_name or row.first_name
    member.last_name = member.last_name or row.last_name
    member.birthday = member.birthday or row.birthday
    session.add(MemberImport(shop_id=shop_id, customer_id=customer, points=row.points))
    report.imported += 1
    report.points += row.points


async def import_members(
    db: Database,
    shop_id: int,
    text: str,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Import the file's members, a batch of rows per transaction."""
    fmt, rows = read(text)
    report = Report(fmt)
    seen: set[str] = set()
    applied: set[str] = set()  # customer ids, once their row is taken
    batch: list[Row] = []

    async def flush() -> None:
        async with db.write() as session:
            for row in batch:
                await _apply(session, shop_id, row, dry_run=dry_run, report=report,
                             applied=applied)  # fmt: skip
        if progress is not None:
            progress(len(batch))
        batch.clear()

    for item in rows:
        report.rows += 1
        if isinstance(item, tuple):
            report.refused.append(item)
            continue
        who = item.customer_id or f"email:{item.email}"
        if who in seen:
            report.refused.append((item.line, "this member appears earlier in the file"))
            continue
        seen.add(who)
        batch.append(item)
        if len(batch) >= BATCH:
            await flush()
    if batch:
        await flush()
    report.refused.sort()
    return report
