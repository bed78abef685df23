"""Shopify's GraphQL cost bucket as the client last saw it (PLATFORMS.md S6.5).

Every Admin GraphQL answer carries ``extensions.cost``: what the query asked for and the
bucket's ``throttleStatus`` (``maximumAvailable``, ``currentlyAvailable``, ``restoreRate`` points
per second). The bucket leaks back at ``restoreRate``, so from the last answer the client can
tell how long to wait before the store will take a query of a known cost. The bucket is the
app's on that store: one per shop in a process, shared by its concurrent calls, each of which
counts its cost as spent when it goes (else every waiting job would send at the moment the
bucket refills, and all but one be throttled).

An answer's level is the store's when it answered, before the calls still on their way or
waiting for their turn here: taken as it is, it would hand their points out again. So the
bucket keeps the lower of that level and its own count (credited with what the answered call
was not charged: a throttled call nothing, another what it did not use); the store's is lower
when another process spends from the same bucket.

Several processes (``vafa worker``s) spending from one store's bucket each see it refill at the
whole restore rate, and together spend it several times over: most of their calls came back
throttled (two workers: 60 %). So a bucket counts the refill at its share of the rate: halved
at each throttled answer, a twentieth of the rate back at each answered call, as TCP shares a
link. One process alone is hardly ever throttled and keeps the whole rate; several settle near
theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.connectors._json import JsonObj

# A query never seen before is assumed to cost this much (a mutation costs 10).
DEFAULT_COST = 10.0
# A hair more than the exact refill time, so that the retry does not land a moment early.
_SLACK = 1.02
# This process's share of the restore rate: never below this, back by this much per answer.
MIN_SHARE = 1 / 16
SHARE_STEP = 0.05


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    maximum: float
    available: float
    restore_rate: float
    seen_at: float  # monotonic seconds


class CostBucket:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._status: ThrottleStatus | None = None
        self._costs: dict[str, float] = {}
        self._share = 1.0

    def observe(self, operation: str, extensions: object, spent: float = 0.0) -> float | None:
        """Remember an answer's cost figures (``spent``: what :meth:`reserve` counted for the
        call); returns the query's requested cost if given."""
        cost = _obj(_obj(extensions).get("cost"))
        requested = _number(cost.get("requestedQueryCost"))
        if requested is not None:
            self._costs[operation] = requested
        status = _obj(cost.get("throttleStatus"))
        maximum = _number(status.get("maximumAvailable"))
        available = _number(status.get("currentlyAvailable"))
        rate = _number(status.get("restoreRate"))
        if maximum is None or available is None or rate is None or rate <= 0:
            return requested
        now = self._clock()
        charged = _number(cost.get("actualQueryCost"))  # none when throttled
        if charged is not None:
            self._share = min(1.0, self._share + SHARE_STEP)
        if self._status is not None:
            _, ours = self._cost_and_level(operation, self._status, now)
            available = min(available, ours + max(spent - (charged or 0.0), 0.0))
        self._status = ThrottleStatus(maximum, available, rate, now)
        return requested

    def wait_before(self, operation: str) -> float:
        """Seconds until the bucket, as last seen, holds what ``operation`` costs."""
        status = self._status
        if status is None:
            return 0.0
        cost, available = self._cost_and_level(operation, status, self._clock())
        if available >= cost:
            return 0.0
        return (cost - available) / (status.restore_rate * self._share) * _SLACK

    def reserve(self, operation: str, longest: float) -> tuple[float, float]:
        """Seconds to wait before sending ``operation``, and the cost counted as spent from
        then on (none if the wait is over ``longest``: the call will not wait so long)."""
        wait = self.wait_before(operation)
        status = self._status
        if status is None or wait > longest:
            return wait, 0.0
        now = self._clock()
        cost, available = self._cost_and_level(operation, status, now)
        self._status = ThrottleStatus(status.maximum, available - cost, status.restore_rate, now)
        return wait, cost

    def _cost_and_level(
        self, operation: str, status: ThrottleStatus, now: float
    ) -> tuple[float, float]:
        """What ``operation`` costs and what the bucket holds at ``now`` (it refills at the
        restore rate since it was last seen, up to its maximum)."""
        cost = min(self._costs.get(operation, DEFAULT_COST), status.maximum)
        available = status.available + (now - status.seen_at) * status.restore_rate * self._share
        return cost, min(status.maximum, available)

    def throttled(self, operation: str) -> float:
        """After a THROTTLED answer: this process's share halves; seconds to wait, the
        store's own figure: (requested − currentlyAvailable) / restoreRate."""
        self._share = max(MIN_SHARE, self._share / 2)
        status = self._status
        if status is None:
            return 1.0  # no figures: Shopify's own client waits a second
        cost = self._costs.get(operation, DEFAULT_COST)
        return max(cost - status.available, 0.0) / status.restore_rate * _SLACK


def _obj(value: object) -> JsonObj:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
