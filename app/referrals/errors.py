"""The referrals' expected failures, in the tree of app/errors.py."""

from __future__ import annotations

from app.errors import Conflict, NotFound


class ReferralNotFound(NotFound):
    code = "referral_not_found"
    example = "no referral 12 in this shop"


class ReferralDecided(Conflict):
    """Approve or reject a referral that is not open for that decision."""

    code = "referral_decided"
    example = "referral 12 is rewarded; only a referral under review can be approved"
