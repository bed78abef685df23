"""Fill a benchmark database with a large ledger that ``vafa ledger verify`` accepts.

    python -m bench.seed_million \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/vafa_bench_large
    python -m bench.seed_million --database-url sqlite+aiosqlite:////tmp/vafa_bench_large.db

The database (a ``vafa_bench*`` name only) is created afresh, migrated, and given one Shopify
shop with the CLI. Then, for ~50,000 members, ~1,000,000 ledger transactions are written with
bulk inserts (COPY on PostgreSQL, executemany on SQLite; never one ``post()`` per entry), in
time order over the last two years:

- 70 % earns: a paid order (``orders`` row) credits available points; each credit is a lot;
- 10 % refund reversals of an earlier order (``order_refunds`` row), in proportion as
  reconciliation computes them;
- 15 % redemptions and 5 % manual adjustments.

Every transaction has two postings that sum to zero (member account against a system
account), so ~2,000,000 postings. Debits never exceed the balance and take from the oldest lots
first, as :mod:`app.ledger.lots` does. Balances, lots' remaining points and members' lifetime
totals are then computed from the postings in SQL, and ``vafa ledger verify`` checks the
result (``--no-verify`` skips it).

The benchmark scripts take such a database with ``--database-url`` (they give its shop new
credentials, see ``common.adopt_shops``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.crypto import new_secret_key
from app.ledger.models import SYSTEM_OWNER, AccountKind, TxKind
from app.ledger.service import Entry, Leg, _fingerprint
from app.program.rules import DEFAULT_RULE, format_money, remaining_points
from bench.common import (
    CUSTOMER_BASE,
    REPO,
    absolute_url,
    asyncpg_dsn,
    database_name,
    is_sqlite,
    prepare_shop,
    recreate_database,
    require_bench_database,
    scalar,
    sqlite_path,
    vafa_command,
    vafa_env,
)
from bench.rss import mib, run_measured

ORDER_BASE = 5_000_000_000_000
REFUND_BASE = 4_000_000_000_000

# Columns written, per table, in the order tables must be filled (foreign keys).
COLUMNS: dict[str, tuple[str, ...]] = {
    "members": ("id", "shop_id", "customer_id", "email", "first_name", "last_name", "birthday",
                "accepts_marketing", "tier", "profile_updated_at", "created_at"),
    "ledger_members": ("id", "shop_id", "owner", "lifetime_earned", "created_at"),
    "accounts": ("id", "shop_id", "owner", "kind", "balance"),
    "ledger_transactions": ("id", "shop_id", "idempotency_key", "fingerprint", "kind", "owner",
                            "points", "uncollected", "source_type", "source_id", "order_id",
                            "rule", "reason", "corrects_id", "created_at"),
    "point_lots": ("id", "shop_id", "owner", "transaction_id", "points", "remaining",
                   "expires_at", "created_at"),
    "postings": ("id", "shop_id", "transaction_id", "account_id", "amount"),
    "lot_movements": ("id", "shop_id", "lot_id", "transaction_id", "amount"),
    "orders": ("id", "shop_id", "order_id", "known", "name", "customer_id", "currency",
               "exponent", "merchandise_minor", "shipping_minor", "tax_minor", "financial_state",
               "cancelled", "deleted", "paid_at", "release_at", "source_updated_at"),
    "order_refunds": ("id", "shop_id", "order_id", "refund_id", "merchandise_minor",
                      "shipping_minor", "refunded_at"),
}  # fmt: skip

# Derived columns, recomputed from what was inserted (the same sums `vafa ledger verify` makes).
FIXUPS = (
    """UPDATE accounts SET balance = COALESCE((SELECT SUM(p.amount) FROM postings p
         WHERE p.shop_id = accounts.shop_id AND p.account_id = accounts.id), 0)
       WHERE shop_id = {shop}""",
    """UPDATE point_lots SET remaining = points + (SELECT SUM(m.amount) FROM lot_movements m
         WHERE m.shop_id = point_lots.shop_id AND m.lot_id = point_lots.id)
       WHERE shop_id = {shop}
         AND id IN (SELECT lot_id FROM lot_movements WHERE shop_id = {shop})""",
    """UPDATE ledger_members SET lifetime_earned = COALESCE((SELECT SUM(t.points)
         FROM ledger_transactions t WHERE t.shop_id = ledger_members.shop_id
         AND t.owner = ledger_members.owner AND t.kind IN ('earn', 'reverse')), 0)
       WHERE shop_id = {shop}""",
)

Rows = dict[str, list[tuple[Any, ...]]]


@dataclass
class Member:
    customer_id: str
    available_account: int  # the id of the member's available-points account
    balance: int = 0
    lots: deque[list[int]] = field(default_factory=deque)  # [lot id, remaining], oldest first
    # Recent orders not refunded yet: (order id, points earned, merchandise in cents).
    orders: deque[tuple[str, int, int]] = field(default_factory=lambda: deque(maxlen=4))


@dataclass
class SeedSummary:
    members: int
    counts: dict[str, int]
    seconds: float


class LedgerGenerator:
    """Generates the rows, in chunks, keeping just enough state per member (balance, open
    lots, recent orders) to keep every debit covered and every lot consistent."""

    def __init__(self, shop_id: int, transactions: int, seed: int) -> None:
        self.shop_id = shop_id
        self.rng = random.Random(seed)
        self.transactions = transactions
        self.started = datetime.now(UTC) - timedelta(days=730)
        self.step = timedelta(days=729) / max(transactions, 1)
        self.next_id = dict.fromkeys(COLUMNS, 1)
        self.rows: Rows = {table: [] for table in COLUMNS}
        self.counts = dict.fromkeys(COLUMNS, 0)
        self.system: dict[str, int] = {}  # system account kind -> account id
        self.members: list[Member] = []

    def _add(self, table: str, **values: Any) -> int:
        """Append a row to ``table`` with the next id; returns the id."""
        row_id = self.next_id[table]
        self.next_id[table] += 1
        values.update(id=row_id, shop_id=self.shop_id)
        self.rows[table].append(tuple(values[column] for column in COLUMNS[table]))
        self.counts[table] += 1
        return row_id

    def _take(self) -> Rows:
        rows, self.rows = self.rows, {table: [] for table in COLUMNS}
        return rows

    def chunks(self, members: int, chunk_size: int) -> Iterator[Rows]:
        self._members_and_accounts(members)
        yield self._take()
        for n in range(self.transactions):
            self._transaction(n)
            if (n + 1) % chunk_size == 0:
                yield self._take()
        yield self._take()

    def _members_and_accounts(self, count: int) -> None:
        for kind in AccountKind.SYSTEM:
            self.system[kind] = self._add("accounts", owner=SYSTEM_OWNER, kind=kind, balance=0)
        for i in range(count):
            customer_id = str(CUSTOMER_BASE + i)
            self._add(
                "members",
                customer_id=customer_id,
                email=f"member{i}@example.com",
                first_name="Member",
                last_name=str(i),
                birthday=None,
                accepts_marketing=False,
                tier=None,
                profile_updated_at=None,
                created_at=self.started,
            )
            self._add(
                "ledger_members", owner=customer_id, lifetime_earned=0, created_at=self.started
            )
            available = self._add(
                "accounts", owner=customer_id, kind=AccountKind.AVAILABLE, balance=0
            )
            self._add("accounts", owner=customer_id, kind=AccountKind.PENDING, balance=0)
            self.members.append(Member(customer_id, available))

    def _transaction(self, n: int) -> None:
        # Skewed: low-numbered members are the regulars with many transactions.
        m = self.members[int(len(self.members) * self.rng.random() ** 2)]
        at = self.started + n * self.step
        roll = self.rng.random()
        if roll < 0.10 and m.orders and self._refund(m, n, at):
            return
        if roll < 0.25 and m.balance >= 100:
            self._redeem(m, n, at)
        elif roll < 0.30:
            self._adjust(m, n, at)
        else:
            self._earn(m, n, at)

    def _post(self, m: Member, at: datetime, entry: Entry) -> int:
        """What ledger.post writes for an entry of two legs, the member's available account
        and a system account: the transaction, its postings, and a lot or lot movements.
        Returns the transaction id."""
        member_leg, system_leg = entry.legs
        points = member_leg.amount
        tx_id = self._add(
            "ledger_transactions",
            idempotency_key=entry.key,
            fingerprint=_fingerprint(entry),
            kind=entry.kind,
            owner=m.customer_id,
            points=points,
            uncollected=0,
            source_type=entry.source_type,
            source_id=entry.source_id,
            order_id=entry.order_id,
            rule=entry.rule,
            reason=entry.reason,
            corrects_id=None,
            created_at=at,
        )
        self._add("postings", transaction_id=tx_id, account_id=m.available_account, amount=points)
        self._add(
            "postings",
            transaction_id=tx_id,
            account_id=self.system[system_leg.kind],
            amount=system_leg.amount,
        )
        m.balance += points
        if points > 0:
            lot_id = self._add(
                "point_lots",
                owner=m.customer_id,
                transaction_id=tx_id,
                points=points,
                remaining=points,  # what later debits take is subtracted in SQL at the end
                expires_at=None,
                created_at=at,
            )
            m.lots.append([lot_id, points])
        else:
            self._consume_lots(m, -points, tx_id)
        return tx_id

    def _consume_lots(self, m: Member, points: int, tx_id: int) -> None:
        """Oldest lot first (no lot expires, so by id), as lots.debit does."""
        need = points
        while need:
            lot = m.lots[0]
            take = min(need, lot[1])
            self._add("lot_movements", lot_id=lot[0], transaction_id=tx_id, amount=-take)
            lot[1] -= take
            need -= take
            if lot[1] == 0:
                m.lots.popleft()

    @staticmethod
    def _legs(m: Member, points: int, system_kind: str) -> tuple[Leg, Leg]:
        return (
            Leg(m.customer_id, AccountKind.AVAILABLE, points),
            Leg(SYSTEM_OWNER, system_kind, -points),
        )

    def _earn(self, m: Member, n: int, at: datetime) -> None:
        """A paid order, as reconcile's credit posts it."""
        order_id = str(ORDER_BASE + n)
        points = self.rng.randint(5, 400)
        merchandise = points * 100 + self.rng.randint(0, 99)  # 1 point per whole USD
        money = format_money(merchandise, 2, "USD")
        entry = Entry(
            key=f"order:{order_id}:earn",
            kind=TxKind.EARN,
            owner=m.customer_id,
            legs=self._legs(m, points, AccountKind.ISSUED),
            reason=f"Earned {points} points for order #{n}: {money} of merchandise",
            source_type="order",
            source_id=order_id,
            order_id=order_id,
            rule=DEFAULT_RULE,
        )
        self._post(m, at, entry)
        self._add(
            "orders",
            order_id=order_id,
            known=True,
            name=f"#{n}",
            customer_id=m.customer_id,
            currency="USD",
            exponent=2,
            merchandise_minor=merchandise,
            shipping_minor=500,
            tax_minor=0,
            financial_state="paid",
            cancelled=False,
            deleted=False,
            paid_at=at,
            release_at=None,
            source_updated_at=at,
        )
        m.orders.append((order_id, points, merchandise))

    def _refund(self, m: Member, n: int, at: datetime) -> bool:
        """Half of an earlier order refunded, reversed in proportion as reconcile does it.
        False (nothing written) when the member's balance cannot cover the reversal."""
        order_id, earned, merchandise = m.orders[0]
        refunded = merchandise // 2
        points = earned - remaining_points(earned, merchandise, refunded)
        if points <= 0 or points > m.balance:
            return False
        m.orders.popleft()
        refund_id = str(REFUND_BASE + n)
        money = format_money(refunded, 2, "USD")
        entry = Entry(
            key=f"refund:{order_id}:{refund_id}:reverse",
            kind=TxKind.REVERSE,
            owner=m.customer_id,
            legs=self._legs(m, -points, AccountKind.ISSUED),
            reason=f"Reversed {points} points for refund {refund_id} of order "
            f"#{int(order_id) - ORDER_BASE}: {money} of merchandise refunded",
            source_type="refund",
            source_id=refund_id,
            order_id=order_id,
            rule=DEFAULT_RULE,
        )
        self._post(m, at, entry)
        self._add(
            "order_refunds",
            order_id=order_id,
            refund_id=refund_id,
            merchandise_minor=refunded,
            shipping_minor=0,
            refunded_at=at,
        )
        return True

    def _redeem(self, m: Member, n: int, at: datetime) -> None:
        points = min(m.balance, self.rng.choice((100, 200, 500)))
        entry = Entry(
            key=f"redemption:seed-{n}",
            kind=TxKind.REDEEM,
            owner=m.customer_id,
            legs=self._legs(m, -points, AccountKind.REDEEMED),
            reason=f"Redeemed {points} points for a discount code",
            source_type="redemption",
            source_id=f"seed-{n}",
        )
        self._post(m, at, entry)

    def _adjust(self, m: Member, n: int, at: datetime) -> None:
        points = self.rng.choice((50, 100, -25))
        if points < 0 and m.balance < -points:
            points = 50
        entry = Entry(
            key=f"manual:seed-{n}",
            kind=TxKind.ADJUST,
            owner=m.customer_id,
            legs=self._legs(m, points, AccountKind.ADJUSTED),
            reason="Goodwill adjustment by the store owner",
            source_type="manual",
        )
        self._post(m, at, entry)


# -- writing ------------------------------------------------------------------------------------


async def _write_pg(url: str, shop_id: int, chunks: Iterator[Rows]) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for chunk in chunks:
            for table, rows in chunk.items():
                if rows:
                    await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
        for sql in FIXUPS:
            await conn.execute(sql.format(shop=shop_id))
        for table in COLUMNS:  # ids were given explicitly: move the sequences past them
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy stores on SQLite: naive UTC text for datetimes, ISO text for dates."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _write_sqlite(path: Path, shop_id: int, chunks: Iterator[Rows]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=ON")
        for chunk in chunks:
            conn.execute("BEGIN")
            for table, rows in chunk.items():
                if rows:
                    columns = COLUMNS[table]
                    sql = (
                        f"INSERT INTO {table} ({', '.join(columns)}) "
                        f"VALUES ({', '.join('?' * len(columns))})"
                    )
                    conn.executemany(sql, [tuple(map(_sqlite_value, row)) for row in rows])
            conn.execute("COMMIT")
        conn.execute("BEGIN")
        for sql in FIXUPS:
            conn.execute(sql.format(shop=shop_id))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def seed_ledger(
    url: str, shop_id: int, *, members: int, transactions: int, seed: int = 1, chunk: int = 50_000
) -> SeedSummary:
    """Write the ledger into a migrated database whose ledger is still empty."""
    require_bench_database(url)
    if scalar(url, "SELECT COUNT(*) FROM ledger_transactions") or scalar(
        url, "SELECT COUNT(*) FROM members"
    ):
        raise SystemExit("the database already has members or ledger entries; seed a fresh one")
    started = time.perf_counter()
    generator = LedgerGenerator(shop_id, transactions, seed)
    chunks = generator.chunks(members, chunk)
    if is_sqlite(url):
        _write_sqlite(sqlite_path(url), shop_id, chunks)
    else:
        asyncio.run(_write_pg(url, shop_id, chunks))
    return SeedSummary(members, dict(generator.counts), time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a vafa_bench* database")
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--chunk", type=int, default=50_000, help="transactions per bulk write")
    parser.add_argument("--no-verify", action="store_true", help="skip `vafa ledger verify`")
    parser.add_argument("--verify-timeout", type=float, default=3600)
    args = parser.parse_args()
    if args.members < 1 or args.transactions < 0:
        parser.error("--members must be at least 1 and --transactions not negative")

    url = absolute_url(args.database_url)
    recreate_database(url)
    env = vafa_env(url, new_secret_key())
    shop = prepare_shop(url, env)
    print(
        f"seeding {database_name(url)}: shop {shop.shop_id}, {args.members} members, "
        f"{args.transactions} transactions …"
    )
    summary = seed_ledger(
        url,
        shop.shop_id,
        members=args.members,
        transactions=args.transactions,
        seed=args.seed,
        chunk=args.chunk,
    )
    print(f"seeded in {summary.seconds:.1f} s:")
    for table, count in summary.counts.items():
        print(f"  {table:<20} {count:>10}")
    if args.no_verify:
        return
    verify = run_measured(
        [*vafa_command(), "ledger", "verify", "--shop", str(shop.shop_id)],
        env,
        REPO,
        args.verify_timeout,
    )
    status = "OK" if verify.returncode == 0 else f"FAILED ({verify.returncode})"
    print(
        f"vafa ledger verify: {status} in {verify.seconds:.1f} s, "
        f"peak RSS {mib(verify.peak_rss_kib)}"
    )
    if verify.returncode != 0:
        print(verify.stderr[-4000:])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
