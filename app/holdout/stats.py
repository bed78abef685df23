"""The lift's 95 % confidence intervals, in ``Decimal`` (no float, no statistics library: the
two formulas are a few lines each, and nothing already installed has them).

- A difference of two proportions: the normal ("Wald") interval,
  ``(p1 − p2) ± z · √(p1(1 − p1)/n1 + p2(1 − p2)/n2)``, z = 1.959964 — Newcombe (1998), method 1.
- A difference of two means (revenue per customer): Welch's interval,
  ``(m1 − m2) ± t(ν) · √(s1²/n1 + s2²/n2)``, ν by Welch–Satterthwaite, the t quantile by the
  Cornish–Fisher expansion in 1/ν (Abramowitz & Stegun 26.7.5): within 4·10⁻⁴ of the tables
  at ν = 5 and 10⁻⁵ from ν = 10 on (the report asks for 30 customers a group).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

Z_975 = Decimal("1.959964")  # the normal distribution's 97.5 % quantile
_CONTEXT = Context(prec=40)


@dataclass(frozen=True, slots=True)
class Interval:
    difference: Decimal
    low: Decimal
    high: Decimal

    @property
    def spans_zero(self) -> bool:
        return self.low <= 0 <= self.high


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> Interval:
    """``x1`` of ``n1`` against ``x2`` of ``n2``: the difference p1 − p2 and its 95 % interval."""
    with localcontext(_CONTEXT):
        p1, p2 = Decimal(x1) / n1, Decimal(x2) / n2
        se = (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2).sqrt()
        d = p1 - p2
        return Interval(d, d - Z_975 * se, d + Z_975 * se)


def t_975(df: Decimal) -> Decimal:
    """Student's t 97.5 % quantile at ``df`` degrees of freedom (Cornish–Fisher in 1/df)."""
    with localcontext(_CONTEXT):
        z = Z_975
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
        return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True, slots=True)
class Sample:
    """What a mean's interval needs of a sample: its size, sum and sum of squares (exact)."""

    n: int
    total: int
    squares: int

    @property
    def mean(self) -> Decimal:
        with localcontext(_CONTEXT):
            return Decimal(self.total) / self.n

    @property
    def variance(self) -> Decimal:
        """The sample variance (n − 1), from exact integer sums."""
        with localcontext(_CONTEXT):
            return Decimal(self.n * self.squares - self.total**2) / (self.n * (self.n - 1))


def welch(a: Sample, b: Sample) -> tuple[Interval, Decimal]:
    """Mean of ``a`` less mean of ``b``, its 95 % Welch interval, and the degrees of freedom."""
    with localcontext(_CONTEXT):
        va, vb = a.variance / a.n, b.variance / b.n
        d = a.mean - b.mean
        if va + vb == 0:  # every customer spent the same: the difference is what it is
            return Interval(d, d, d), Decimal(a.n + b.n - 2)
        df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
        margin = t_975(df) * (va + vb).sqrt()
        return Interval(d, d - margin, d + margin), df
