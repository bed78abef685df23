"""A shop's program, versioned: every ``PUT /api/v1/program`` stores a new version with the time
it takes effect, and nothing is ever rewritten, so an order is judged by the version in force
when it was paid (``ProgramHistory.at``) and a refund reverses what that version awarded.

A shop whose program was never set has one version, made from its settings
(``document.from_settings``); it is stored the first time the shop publishes another, so that
version numbers once shown never change meaning.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, ScalarSelect, String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import ValidationFailed
from app.program.document import ProgramDocument, from_settings
from app.program.models import ProgramVersion as ProgramVersionRow
from app.program.settings import ProgramSettings
from app.shops.models import Shop

# Before any stored version: the first version is in force from the beginning of time.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    effective_at: datetime
    document: ProgramDocument


@dataclass(frozen=True, slots=True)
class ProgramHistory:
    """Every version of one shop's program, oldest first (never empty)."""

    versions: tuple[Version, ...]

    def at(self, when: datetime | None) -> Version:
        """The version in force at ``when`` (the latest one for an unknown time)."""
        if when is None:
            return self.versions[-1]
        starts = [v.effective_at for v in self.versions]
        return self.versions[max(bisect_right(starts, when) - 1, 0)]

    @property
    def latest(self) -> Version:
        return self.versions[-1]


async def load(session: AsyncSession, shop_id: int) -> ProgramHistory:
    rows = (
        await session.execute(
            select(
                ProgramVersionRow.version,
                ProgramVersionRow.effective_at,
                ProgramVersionRow.document,
            )
            .where(ProgramVersionRow.shop_id == shop_id)
            .order_by(ProgramVersionRow.version)
        )
    ).all()
    if rows:
        return ProgramHistory(
            tuple(Version(v, at, ProgramDocument.model_validate(doc)) for v, at, doc in rows)
        )
    return ProgramHistory((await _first(session, shop_id),))


# The shop's newest stored version (number, time stored), read in the caller's own statement
# (:func:`newest_version`, :func:`newest_stored`).
Stamp = tuple[int, str | None]


def newest_version(shop_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[int]:
    """The shop's newest version number, as a column of the caller's statement."""
    return (
        select(func.max(ProgramVersionRow.version))
        .where(ProgramVersionRow.shop_id == shop_id)
        .scalar_subquery()
    )


def newest_stored(shop_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[str]:
    """When the shop's newest version was stored, as text (tells it from a deleted shop's whose
    id a new shop reused, SQLite reusing the highest ids)."""
    return (
        select(cast(func.max(ProgramVersionRow.created_at), String))
        .where(ProgramVersionRow.shop_id == shop_id)
        .scalar_subquery()
    )


class HistoryCache:
    """The shops' programs as this process last read them, for a hot read (the member
    document) that needs the program but should not read and validate every version each
    time. An entry is used only while its stamp is the shop's newest stored version, read in
    the same statement as the caller's data: versions are never updated and a new one always
    gets the next number, so the same newest version means the same history, whichever
    process published a later one. Bounded: least recently used shops go first."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[Stamp, ProgramHistory]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, shop_id: int, stamp: Stamp | None) -> ProgramHistory | None:
        """The cached program while ``stamp`` is still the shop's newest version, else None."""
        found = self._entries.get(shop_id)
        if stamp is None or found is None or found[0] != stamp:
            return None
        self._entries.move_to_end(shop_id)
        return found[1]

    async def load(
        self, session: AsyncSession, shop_id: int, stamp: Stamp | None
    ) -> ProgramHistory:
        """The shop's program: the cached one while ``stamp`` is still its newest version."""
        found = self.cached(shop_id, stamp)
        if found is not None:
            return found
        history = await load(session, shop_id)
        # Published between the caller's statement and this load: keep it for the next stamp.
        if stamp is not None and history.latest.version == stamp[0]:
            self._entries[shop_id] = (stamp, history)
            self._entries.move_to_end(shop_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return history


async def _first(session: AsyncSession, shop_id: int) -> Version:
    settings = await session.scalar(select(Shop.settings).where(Shop.id == shop_id))
    return Version(1, BEGINNING, from_settings(ProgramSettings.from_json(settings)))


async def publish(
    session: AsyncSession,
    shop_id: int,
    document: ProgramDocument,
    now: datetime,
    effective_at: datetime | None = None,
) -> Version:
    """Store ``document`` as the shop's next version, in force from ``effective_at`` (default:
    now). A version cannot take effect in the past: what was judged under the versions before
    stays judged so."""
    when = effective_at or now
    if when < now:
        raise ValidationFailed("effective_at is in the past; a program change applies from now on")
    stored = await session.scalar(
        select(func.max(ProgramVersionRow.version)).where(ProgramVersionRow.shop_id == shop_id)
    )
    if stored is None:
        await _store(session, shop_id, await _first(session, shop_id))
        stored = 1
    history = await load(session, shop_id)
    if when < history.latest.effective_at:
        raise ValidationFailed(
            f"effective_at is before version {history.latest.version} takes effect "
            f"({history.latest.effective_at.isoformat()})"
        )
    version = Version(stored + 1, when, document)
    await _store(session, shop_id, version)
    return version


async def _store(session: AsyncSession, shop_id: int, version: Version) -> None:
    session.add(
        ProgramVersionRow(
            shop_id=shop_id,
            version=version.version,
            effective_at=version.effective_at,
            document=version.document.to_json(),
        )
    )
    await session.flush()


def versions_between(history: ProgramHistory, start: datetime, end: datetime) -> Sequence[Version]:
    """The versions in force at some time in [start, end)."""
    return [
        v for i, v in enumerate(history.versions)
        if v.effective_at < end
        and (i + 1 == len(history.versions) or history.versions[i + 1].effective_at > start)
    ]  # fmt: skip


async def record_first(session: AsyncSession, shop_id: int) -> Version:
    """Store version 1 from the shop's settings (a new shop's program), unless one is stored."""
    stored = await session.scalar(
        select(func.max(ProgramVersionRow.version)).where(ProgramVersionRow.shop_id == shop_id)
    )
    if stored is not None:
        return (await load(session, shop_id)).versions[0]
    first = await _first(session, shop_id)
    await _store(session, shop_id, first)
    return first
