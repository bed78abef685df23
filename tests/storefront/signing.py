"""A shopper's credentials as the platforms make them, written from PLATFORMS.md S5 and the
plugin's contract, independently of Vafa's own checks."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import jwt


def app_proxy_query(
    secret: str, shop: str, customer_id: str = "", *, timestamp: int | None = None,
    extra: dict[str, str] | None = None,
) -> str:  # fmt: skip
    """The query Shopify's app proxy adds: sorted ``key=value`` concatenated, hex HMAC-SHA256."""
    params = {
        "shop": shop,
        "logged_in_customer_id": customer_id,
        "path_prefix": "/apps/vafa",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        **(extra or {}),
    }
    message = "".join(f"{k}={params[k]}" for k in sorted(params))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


def plugin_token(
    secret: str, customer_id: str, *, lifetime: int = 600, issued: int | None = None
) -> str:
    now = int(time.time()) if issued is None else issued
    return jwt.encode({"sub": customer_id, "iat": now, "exp": now + lifetime}, secret, "HS256")
