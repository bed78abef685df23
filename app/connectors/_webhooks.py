"""Webhook plumbing both platforms share: the HMAC signature scheme and key bounding."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

MAX_KEY_LENGTH = 255


def hmac_sha256_base64_matches(
    raw_body: bytes, signature: str | None, keys: Iterable[bytes]
) -> bool:
    """True when ``signature`` is ``base64(HMAC-SHA256(key, raw_body))`` for any of ``keys``.

    Several keys because a rotated secret keeps signing for a while (current and previous).
    """
    if not raw_body or not signature:
        return False
    # Compare bytes: compare_digest raises TypeError on non-ASCII str, and a header is untrusted.
    given = signature.encode("utf-8", "replace")
    matched = False
    for key in keys:
        if not key:  # an empty secret would be a key anyone can guess
            continue
        expected = base64.b64encode(hmac.new(key, raw_body, hashlib.sha256).digest())
        matched |= hmac.compare_digest(expected, given)
    return matched


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bounded_key(platform: str, key: str) -> str:
    """``key`` if the dedupe column can hold it (short enough, no NUL, which PostgreSQL refuses),
    else a digest of it that still names the platform."""
    if len(key) <= MAX_KEY_LENGTH and "\x00" not in key:
        return key
    return f"{platform}:sha256:{sha256_hex(key.encode('utf-8'))}"
