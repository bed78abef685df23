"""Every table, imported in one place for Alembic and the tests."""

from app.jobs.models import Job
from app.ledger.models import Account, LedgerTransaction, LotMovement, PointLot, Posting
from app.members.models import Member
from app.orm import Base
from app.program.models import Order, OrderRefund, ProgramVersion
from app.referrals.models import Referral, ReferralCode
from app.rewards.models import Redemption, Reward
from app.shops.models import Shop
from app.sync.models import StoreSync
from app.webhooks.models import WebhookEvent

__all__ = [
    "Account",
    "Base",
    "Job",
    "LedgerTransaction",
    "LotMovement",
    "Member",
    "Order",
    "OrderRefund",
    "PointLot",
    "ProgramVersion",
    "Posting",
    "Redemption",
    "Referral",
    "ReferralCode",
    "Reward",
    "Shop",
    "StoreSync",
    "WebhookEvent",
]
