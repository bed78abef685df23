"""Disposable (throw-away) email domains: a friend signing up with one is held for review.

A small hand-picked list of the best-known services, all of which appear in the community list
https://github.com/disposable-email-domains/disposable-email-domains (CC0, file
``disposable_email_blocklist.conf``). Subdomains count too (``x.mailinator.com``). Extend it
here; the comparison key stored on orders is a hash of the domain, so a longer list applies to
orders stored before it.
"""

from __future__ import annotations

DOMAINS = frozenset(
    {
        "10minutemail.com",
        "discard.email",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getnada.com",
        "grr.la",
        "guerrillamail.com",
        "guerrillamail.net",
        "guerrillamail.org",
        "guerrillamailblock.com",
        "mailcatch.com",
        "maildrop.cc",
        "mailinator.com",
        "mailnesia.com",
        "mintemail.com",
        "mohmal.com",
        "sharklasers.com",
        "spam4.me",
        "temp-mail.org",
        "tempr.email",
        "throwawaymail.com",
        "trashmail.com",
        "yopmail.com",
        "yopmail.fr",
    }
)
