"""The window arithmetic on its own: periods in the shop's time zone, a rolling window's end
a year on (29 February included), and review times with grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.program.document import Tiers
from app.tiers import windows
from app.tiers.windows import Fact
from tests.tiers.helpers import LEVELS

TEHRAN = ZoneInfo("Asia/Tehran")


def tiers(**fields: object) -> Tiers:
    return Tiers.model_validate({"levels": LEVELS, **fields})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class TestPeriods:
    @pytest.mark.parametrize(
        ("moment", "start", "end"),
        [
            ("2026-03-20T23:59:59+03:30", "2025-03-21T00:00:00+03:30", "2026-03-21T00:00:00+03:30"),
            ("2026-03-21T00:00:00+03:30", "2026-03-21T00:00:00+03:30", "2027-03-21T00:00:00+03:30"),
            # 1403 was a leap year: its Nowruz was 2024-03-20.
            ("2024-03-20T00:00:00+03:30", "2024-03-20T00:00:00+03:30", "2025-03-21T00:00:00+03:30"),
        ],
    )  # fmt: skip
    def test_a_jalali_year_runs_from_nowruz_to_nowruz_at_local_midnight(
        self, moment: str, start: str, end: str
    ) -> None:
        period = windows.period_of("jalali_year", TEHRAN, at(moment))
        assert (period.start, period.end) == (at(start), at(end))

    def test_a_calendar_year_starts_at_local_midnight(self) -> None:
        period = windows.period_of("calendar_year", TEHRAN, at("2025-12-31T20:30:00Z"))
        assert period.start == at("2026-01-01T00:00:00+03:30")

    def test_lifetime_has_no_periods(self) -> None:
        with pytest.raises(ValueError, match="no periods"):
            windows.period_of("lifetime", TEHRAN, at("2026-01-01T00:00:00Z"))


class TestRolling:
    def test_a_fact_of_29_february_leaves_on_28_february(self) -> None:
        leaves = windows.leaves_window(TEHRAN, at("2028-02-29T10:00:00+03:30"))
        assert leaves == at("2029-02-28T10:00:00+03:30")

    def test_the_window_holds_a_fact_until_the_same_minute_a_year_on(self) -> None:
        facts = [Fact(at("2025-03-10T12:00:00+03:30"), 150)]
        year_on = at("2026-03-10T12:00:00+03:30")
        assert windows.rolling(facts, TEHRAN, year_on - timedelta(microseconds=1)) == 150
        assert windows.rolling(facts, TEHRAN, year_on) == 0

    def test_the_review_is_the_fall_below_the_threshold_plus_grace(self) -> None:
        rules = tiers(window="rolling_12_months", grace_days=3)
        facts = [Fact(at("2025-01-01T00:00:00Z"), 80), Fact(at("2025-06-01T00:00:00Z"), 80)]
        now = at("2025-06-02T00:00:00Z")
        assert windows.entitled(rules, TEHRAN, facts, now) == 1
        # The first leaves a year on to the minute: 80 left, below 100.
        expected = at("2026-01-01T00:00:00Z") + timedelta(days=3)
        assert windows.review_at(rules, TEHRAN, facts, 1, now) == expected
        assert windows.entitled(rules, TEHRAN, facts, expected - timedelta(seconds=1)) == 1
        assert windows.entitled(rules, TEHRAN, facts, expected) == 0


class TestYears:
    def test_a_level_lasts_until_the_end_of_the_next_year_plus_grace(self) -> None:
        rules = tiers(window="calendar_year", grace_days=10)
        facts = [Fact(at("2025-05-01T00:00:00Z"), 600)]
        end = at("2027-01-01T00:00:00+03:30") + timedelta(days=10)
        assert windows.review_at(rules, TEHRAN, facts, 2, at("2025-05-02T00:00:00Z")) == end
        assert windows.entitled(rules, TEHRAN, facts, end - timedelta(seconds=1)) == 2
        assert windows.entitled(rules, TEHRAN, facts, end) == 0

    def test_the_first_level_is_never_reviewed(self) -> None:
        rules = tiers(window="calendar_year")
        assert windows.review_at(rules, TEHRAN, [], 0, at("2025-05-02T00:00:00Z")) is None

    def test_progress_counts_the_current_year_only(self) -> None:
        rules = tiers(window="jalali_year")
        facts = [Fact(at("2026-03-20T20:29:00Z"), 400), Fact(at("2026-03-20T20:31:00Z"), 60)]
        ahead = windows.progress(rules, TEHRAN, facts, 0, at("2026-04-01T00:00:00Z"))
        assert (ahead.qualifying, ahead.next_level, ahead.needed) == (60, 1, 40)
        assert ahead.window_ends_at == at("2027-03-21T00:00:00+03:30")
