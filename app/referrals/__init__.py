"""Referrals: a member's code and link, the friend's first paid order attributed to it, both
rewarded as the program's referral rule says once the order is past the hold period, and the
fraud checks that hold a suspicious referral for the store owner's review."""
