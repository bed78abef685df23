"""Every table, imported in one place for Alembic and the tests."""

from app.admin.models import AdminLink, AdminSessionRecord, AdminUser
from app.engage.models import EngageMember, MemberEvent, RuleAward
from app.holdout.models import HoldoutAssignment, HoldoutSettings
from app.imports.models import MemberImport
from app.jobs.models import Job, SchedulerTick
from app.ledger.models import Account, LedgerTransaction, LotMovement, PointLot, Posting
from app.members.models import Member
from app.orm import Base
from app.privacy.models import PrivacyRequest, PrivacySettings
from app.program.models import Order, OrderRefund, ProductGroups, ProgramVersion
from app.referrals.models import Referral, ReferralCode
from app.reports.models import (
    ReportCampaignDay,
    ReportCohort,
    ReportCursor,
    ReportCustomerMonth,
    ReportDay,
    ReportMonth,
    ReportTier,
)
from app.rewards.models import Redemption, Reward
from app.segments.models import MemberRfm, SegmentDefinition, SegmentRefresh, SegmentSpan
from app.shops.models import Shop
from app.sync.models import StoreSync
from app.tiers.models import MemberTier, TierChange, TierMembership
from app.webhooks.models import WebhookEvent
from app.woocommerce_app.models import WooConnect

__all__ = [
    "Account",
    "AdminLink",
    "AdminSessionRecord",
    "AdminUser",
    "Base",
    "EngageMember",
    "HoldoutAssignment",
    "HoldoutSettings",
    "Job",
    "LedgerTransaction",
    "LotMovement",
    "Member",
    "MemberImport",
    "MemberRfm",
    "MemberTier",
    "MemberEvent",
    "Order",
    "OrderRefund",
    "PointLot",
    "ProductGroups",
    "ProgramVersion",
    "Posting",
    "PrivacyRequest",
    "PrivacySettings",
    "Redemption",
    "ReportCampaignDay",
    "ReportCohort",
    "ReportCursor",
    "ReportCustomerMonth",
    "ReportDay",
    "ReportMonth",
    "ReportTier",
    "Referral",
    "ReferralCode",
    "Reward",
    "RuleAward",
    "SchedulerTick",
    "SegmentDefinition",
    "SegmentRefresh",
    "SegmentSpan",
    "Shop",
    "StoreSync",
    "TierChange",
    "TierMembership",
    "WebhookEvent",
    "WooConnect",
]
