"""A large history for the reports, written by the database itself: ``INSERT … SELECT`` over
numbered rows (``generate_series`` on PostgreSQL, a recursive CTE on SQLite), a chunk of
members at a time, nothing generated in Python nor passed through the ORM.

Every member joins, then makes ten ledger transactions, in id order and time order over the
last two years (member m's n-th at second ``(10 m + n) * step`` of the span):

    earn, earn, adjust +50, earn, reverse (half of the 3rd order refunded), redeem 100,
    earn, adjust -25, earn, earn (an order that used a Vafa code)

Earn amounts vary with m; the pattern never takes a balance below zero (the first earn is at
least 50 points, the 7th at least 25). Each transaction has two postings that sum to zero
(the member's available account against the issued, adjusted or redeemed account); each credit
is a lot and each debit takes from the oldest lots first (lot movements computed from running
totals, as ``app.ledger.lots`` would take them); each earn has its paid order, the reversal its
refund (the points ``remaining_points`` gives); balances and lifetime totals are the sums of
the postings. One member in five also brings a guest order (no ledger line). So ``vafa ledger
verify`` accepts the result (see tests/reports/test_rebuild_sql.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ledger.models import SYSTEM_OWNER, AccountKind
from app.program.rules import DEFAULT_RULE
from app.rewards.codes import PREFIX

TX_PER_MEMBER = 10
CUSTOMER_BASE = 7_000_000_000_000
ORDER_BASE = 8_000_000_000_000  # + 10 m + n: the order of member m's n-th transaction
GUEST_ORDER_BASE = 9_000_000_000_000  # + m
REFUND_BASE = 3_000_000_000_000

# (kind, system account, points) of each of a member's ten transactions; ``m`` is the member's
# number. The reversal's points are what remaining_points(p3, merchandise, half) leaves out.
_P3 = "(5 + (m * 71 + 3) % 396)"
_M3 = f"({_P3} * 100 + m % 100)"
PATTERN = (
    ("earn", AccountKind.ISSUED, "(50 + (m * 37 + 11) % 351)"),
    ("earn", AccountKind.ISSUED, "(5 + (m * 53 + 7) % 396)"),
    ("adjust", AccountKind.ADJUSTED, "50"),
    ("earn", AccountKind.ISSUED, _P3),
    ("reverse", AccountKind.ISSUED, f"-({_P3} - {_P3} * ({_M3} - {_M3} / 2) / {_M3})"),
    ("redeem", AccountKind.REDEEMED, "-100"),
    ("earn", AccountKind.ISSUED, "(25 + (m * 89 + 5) % 376)"),
    ("adjust", AccountKind.ADJUSTED, "-25"),
    ("earn", AccountKind.ISSUED, "(5 + (m * 97 + 1) % 396)"),
    ("earn", AccountKind.ISSUED, "(5 + (m * 29 + 13) % 396)"),
)
CODE_ORDER = 9  # the transaction whose order used a Vafa code
REFUND = 4  # the reversal of the third order (n = 3): half of it refunded


@dataclass(frozen=True)
class Ids:
    """The first id of each table's seeded rows (the seed adds to what is there)."""

    member: int
    account: int
    tx: int
    posting: int
    lot: int
    movement: int
    order: int
    refund: int


@dataclass(frozen=True)
class Plan:
    shop_id: int
    members: int  # in all
    start: datetime  # the first transaction
    step_seconds: int  # between two transactions
    ids: Ids
    system: dict[str, int]  # the shop's system accounts' ids by kind

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.step_seconds * self.members * TX_PER_MEMBER)


async def _next_id(conn: AsyncConnection, table: str) -> int:
    return int((await conn.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))).one()[0])


async def plan(
    conn: AsyncConnection,
    shop_id: int,
    members: int,
    *,
    days: int = 730,
    now: datetime | None = None,
) -> Plan:
    """Where the seed goes: ids after what is there, times over ``days`` days ending just
    before ``now``."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    system = await _system_accounts(conn, shop_id)
    span = days * 86400
    step = max(span // (members * TX_PER_MEMBER + 1), 1)
    start = now - timedelta(seconds=step * (members * TX_PER_MEMBER + 1))
    names = ("members", "accounts", "ledger_transactions", "postings", "point_lots",
             "lot_movements", "orders", "order_refunds")  # fmt: skip
    ids = Ids(*[await _next_id(conn, name) for name in names])
    return Plan(shop_id, members, start, step, ids, system)


async def _system_accounts(conn: AsyncConnection, shop_id: int) -> dict[str, int]:
    """The shop's system accounts' ids, made if missing."""
    found: dict[str, int] = {}
    for kind in AccountKind.SYSTEM:
        row = (
            await conn.execute(
                text("SELECT id FROM accounts WHERE shop_id = :s AND owner = :o AND kind = :k"),
                {"s": shop_id, "o": SYSTEM_OWNER, "k": kind},
            )
        ).first()
        if row is None:
            await conn.execute(
                text("INSERT INTO accounts (shop_id, owner, kind, balance) VALUES (:s, :o, :k, 0)"),
                {"s": shop_id, "o": SYSTEM_OWNER, "k": kind},
            )
            row = (
                await conn.execute(
                    text("SELECT id FROM accounts WHERE shop_id = :s AND owner = :o AND kind = :k"),
                    {"s": shop_id, "o": SYSTEM_OWNER, "k": kind},
                )
            ).one()
        found[kind] = int(row[0])
    return found


class _Sql:
    """What differs between the engines: numbered rows, time arithmetic, JSON literals."""

    def __init__(self, dialect: str, p: Plan) -> None:
        self.sqlite = dialect == "sqlite"
        self.p = p

    def numbers(self, low: int, high: int) -> str:
        """A FROM item of rows ``m`` from low to high - 1."""
        if self.sqlite:
            return (
                f"(WITH RECURSIVE n(m) AS (SELECT {low} UNION ALL SELECT m + 1 FROM n "
                f"WHERE m < {high - 1}) SELECT m FROM n) AS numbers"
            )
        return f"generate_series({low}, {high - 1}) AS numbers(m)"

    def at(self, seconds: str) -> str:
        """The moment ``seconds`` after the plan's start, as the engine stores UTC times."""
        if self.sqlite:  # SQLAlchemy's text format: naive UTC with microseconds
            start = self.p.start.strftime("%Y-%m-%d %H:%M:%S")
            moved = f"strftime('%Y-%m-%d %H:%M:%S', '{start}', '+' || ({seconds}) || ' seconds')"
            return f"({moved} || '.000000')"
        return f"(TIMESTAMPTZ '{self.p.start.isoformat()}' + ({seconds}) * INTERVAL '1 second')"

    def json(self, expression: str) -> str:
        return expression if self.sqlite else f"CAST({expression} AS json)"


async def seed_chunk(conn: AsyncConnection, p: Plan, low: int, high: int) -> None:
    """Members ``low`` to ``high - 1`` of the plan, with all their rows."""
    sql = _Sql(conn.dialect.name, p)
    s, ids, step, system = p.shop_id, p.ids, p.step_seconds, p.system
    run: Callable[[str], Any] = conn.exec_driver_sql  # no bind parameters: ':earn' is text
    customer = f"CAST({CUSTOMER_BASE} + m AS TEXT)"
    kinds = " ".join(f"WHEN {n} THEN '{kind}'" for n, (kind, _, _) in enumerate(PATTERN))
    accounts = " ".join(f"WHEN {n} THEN {system[acct]}" for n, (_, acct, _) in enumerate(PATTERN))
    points = " ".join(f"WHEN {n} THEN {pts}" for n, (_, _, pts) in enumerate(PATTERN))
    if not sql.sqlite:
        # The rows are consistent by construction (and ``vafa ledger verify`` checks them): no
        # foreign-key trigger per row, which cost more than the inserts themselves.
        await run("SET LOCAL session_replication_role = replica")
        await run("SET LOCAL work_mem = '256MB'")
    await run("DROP TABLE IF EXISTS seed_tx")
    await run(
        f"""CREATE TEMP TABLE seed_tx AS
        SELECT m, n, 10 * m + n AS q, CASE n {kinds} END AS kind,
               CASE n {accounts} END AS system_account, CASE n {points} END AS points
        FROM {sql.numbers(low, high)}, (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2
             UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6
             UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS pattern"""
    )
    at = sql.at(f"q * {step}")
    await run(
        f"""INSERT INTO members (id, shop_id, customer_id, email, first_name, last_name,
              accepts_marketing, created_at)
        SELECT {ids.member} + m, {s}, {customer}, 'member' || m || '@example.com', 'Member',
               CAST(m AS TEXT), FALSE, {sql.at(f"10 * m * {step}")}
        FROM {sql.numbers(low, high)}"""
    )
    await run(
        f"""INSERT INTO ledger_members (shop_id, owner, lifetime_earned, created_at)
        SELECT {s}, {customer}, SUM(CASE WHEN kind IN ('earn', 'reverse') THEN points ELSE 0 END),
               {sql.at(f"10 * m * {step}")}
        FROM seed_tx GROUP BY m"""
    )
    await run(
        f"""INSERT INTO accounts (id, shop_id, owner, kind, balance)
        SELECT {ids.account} + m, {s}, {customer}, 'available', SUM(points)
        FROM seed_tx GROUP BY m"""
    )
    order_id = f"CAST({ORDER_BASE} + q AS TEXT)"
    refunded = f"CAST({ORDER_BASE} + q - 1 AS TEXT)"  # the reversal's order: the one before it
    refund_id = f"CAST({REFUND_BASE} + q AS TEXT)"
    await run(
        f"""INSERT INTO ledger_transactions (id, shop_id, idempotency_key, fingerprint, kind, owner,
              points, uncollected, source_type, source_id, order_id, rule, reason, created_at)
        SELECT {ids.tx} + q, {s},
          CASE kind WHEN 'earn' THEN 'order:' || {order_id} || ':earn'
                    WHEN 'reverse' THEN 'refund:' || {refunded} || ':' || {refund_id} || ':reverse'
                    WHEN 'redeem' THEN 'redemption:seed-' || q ELSE 'manual:seed-' || q END,
          'seed:' || kind, kind, {customer}, points, 0,
          CASE kind WHEN 'earn' THEN 'order' WHEN 'reverse' THEN 'refund'
                    WHEN 'redeem' THEN 'redemption' ELSE 'manual' END,
          CASE kind WHEN 'earn' THEN {order_id} WHEN 'reverse' THEN {refund_id}
                    WHEN 'redeem' THEN 'seed-' || q END,
          CASE kind WHEN 'earn' THEN {order_id} WHEN 'reverse' THEN {refunded} END,
          CASE WHEN kind IN ('earn', 'reverse') THEN '{DEFAULT_RULE}' END,
          CASE kind WHEN 'earn' THEN 'Earned ' || points || ' points for order #' || q
                    WHEN 'reverse' THEN 'Reversed ' || -points || ' points for a refund'
                    WHEN 'redeem' THEN 'Redeemed ' || -points || ' points for a discount code'
                    ELSE 'Goodwill adjustment by the store owner' END,
          {at}
        FROM seed_tx"""
    )
    await run(
        f"""INSERT INTO postings (id, shop_id, transaction_id, account_id, amount)
        SELECT {ids.posting} + 2 * q, {s}, {ids.tx} + q, {ids.account} + m, points FROM seed_tx
        UNION ALL
        SELECT {ids.posting} + 2 * q + 1, {s}, {ids.tx} + q, system_account, -points FROM seed_tx"""
    )
    # Lots: each credit is the stretch [low, high) of the member's running credited total; each
    # debit the stretch of the running debited total; a debit takes from a lot what overlaps.
    await run(
        """CREATE TEMP TABLE seed_runs AS
        SELECT m, q, points > 0 AS credit, ABS(points) AS amount,
               SUM(ABS(points)) OVER (PARTITION BY m, points > 0 ORDER BY q) AS high
        FROM seed_tx"""
    )
    await run(
        f"""INSERT INTO point_lots (id, shop_id, owner, transaction_id, points, remaining,
              expires_at, created_at)
        SELECT {ids.lot} + c.q, {s}, CAST({CUSTOMER_BASE} + c.m AS TEXT), {ids.tx} + c.q, c.amount,
               c.amount - CASE WHEN d.total <= c.high - c.amount THEN 0
                               WHEN d.total >= c.high THEN c.amount
                               ELSE d.total - (c.high - c.amount) END,
               NULL, {sql.at(f"c.q * {step}")}
        FROM seed_runs c
        JOIN (SELECT m AS dm, SUM(CASE WHEN credit THEN 0 ELSE amount END) AS total
              FROM seed_runs GROUP BY m) d ON d.dm = c.m
        WHERE c.credit"""
    )
    await run(
        f"""INSERT INTO lot_movements (id, shop_id, lot_id, transaction_id, amount)
        SELECT {ids.movement} + 10 * d.q + (c.q - 10 * c.m), {s}, {ids.lot} + c.q, {ids.tx} + d.q,
               -((CASE WHEN c.high < d.high THEN c.high ELSE d.high END)
                 - (CASE WHEN c.high - c.amount > d.high - d.amount THEN c.high - c.amount
                         ELSE d.high - d.amount END))
        FROM seed_runs d JOIN seed_runs c ON c.m = d.m AND c.credit
             AND c.high - c.amount < d.high AND d.high - d.amount < c.high
        WHERE NOT d.credit"""
    )
    merchandise = "(points * 100 + m % 100)"
    code = sql.json(f"'[\"{PREFIX}SEED-' || q || '\"]'")
    await run(
        f"""INSERT INTO orders (id, shop_id, order_id, known, name, customer_id, currency, exponent,
              merchandise_minor, shipping_minor, tax_minor, financial_state, cancelled, deleted,
              paid_at, source_updated_at, discount_codes, backfilled)
        SELECT {ids.order} + q, {s}, {order_id}, TRUE, '#' || q, {customer}, 'USD', 2,
               {merchandise}, 500, 0, 'paid', FALSE, FALSE, {at}, {at},
               CASE WHEN n = {CODE_ORDER} THEN {code} END,
               FALSE
        FROM seed_tx WHERE kind = 'earn'
        UNION ALL
        SELECT {ids.order} + {10 * p.members} + m, {s}, CAST({GUEST_ORDER_BASE} + m AS TEXT), TRUE,
               'G' || m, NULL, 'USD', 2, 2500 + m % 10000, 500, 0, 'paid', FALSE, FALSE,
               {sql.at(f"(10 * m + 1) * {step}")}, {sql.at(f"(10 * m + 1) * {step}")}, NULL, FALSE
        FROM {sql.numbers(low, high)} WHERE m % 5 = 0"""
    )
    await run(
        f"""INSERT INTO order_refunds (id, shop_id, order_id, refund_id, merchandise_minor,
              shipping_minor, refunded_at)
        SELECT {ids.refund} + m, {s}, {refunded}, {refund_id}, {_M3} / 2, 0, {at}
        FROM seed_tx WHERE n = {REFUND}"""
    )
    await run(
        """UPDATE accounts SET balance = balance - (SELECT COALESCE(SUM(points), 0) FROM seed_tx
             WHERE seed_tx.system_account = accounts.id)
           WHERE id IN (SELECT DISTINCT system_account FROM seed_tx)"""
    )
    await run("DROP TABLE seed_runs")
    await run("DROP TABLE seed_tx")


async def finish(conn: AsyncConnection) -> None:
    """Move PostgreSQL's sequences past the ids given explicitly, and refresh statistics."""
    if conn.dialect.name == "sqlite":
        await conn.execute(text("ANALYZE"))
        return
    for table in ("members", "ledger_members", "accounts", "ledger_transactions", "postings",
                  "point_lots", "lot_movements", "orders", "order_refunds"):  # fmt: skip
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
        )
