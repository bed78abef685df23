"""A store owner's manual adjustment, posted once per idempotency key.

The ledger refuses a key reused for other points (its fingerprint covers what a transaction
does to balances); a manual adjustment's key also covers its reason, as the store owner sees
the reason as part of the request. This is checked here rather than in the ledger's
fingerprint, so that the fingerprints of transactions already stored keep their meaning.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import IdempotencyConflict
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction
from app.members import service as members


async def adjust(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    points: int,
    *,
    idempotency_key: str,
    reason: str,
) -> ledger.Posted:
    key = f"manual:{idempotency_key}"
    await members.enrol(session, shop_id, [customer_id])  # the ledger keeps no member rows
    posted = await ledger.adjust(session, shop_id, customer_id, points, key=key, reason=reason)
    if not posted.created:
        tx = LedgerTransaction
        stored = await session.scalar(
            select(tx.reason).where(tx.shop_id == shop_id, tx.id == posted.transaction_id)
        )
        if stored != reason.strip():  # the ledger keeps the reason stripped
            raise IdempotencyConflict(
                f"idempotency key {key!r} was already used with another reason"
            )
    return posted
