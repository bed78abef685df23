"""Discount codes derived from their redemption.

A code is an HMAC of the shop and the redemption under the app's secret key: anyone without
the key cannot guess a member's code, and Vafa can always compute it again, so a job that runs
twice looks for the code it would create before creating one."""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "VAFA-"


def code_for(secret_key: str, shop_id: int, redemption_id: int) -> str:
    """``VAFA-`` and four groups of four base32 characters (80 bits), upper case: WooCommerce
    stores codes lower-cased, so they are compared case-insensitively."""
    key = hashlib.sha256(b"vafa discount codes\x00" + secret_key.encode()).digest()
    digest = hmac.new(key, f"{shop_id}:{redemption_id}".encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest[:10]).decode()
    return PREFIX + "-".join(text[i : i + 4] for i in range(0, 16, 4))


def is_ours(code: str) -> bool:
    return code.upper().startswith(PREFIX)
