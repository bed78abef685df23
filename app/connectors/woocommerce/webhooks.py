"""WooCommerce webhook signature and dedupe key (PLATFORMS.md W1)."""

from __future__ import annotations

import re

import orjson

from app.connectors._json import get_id, get_str, require_obj
from app.connectors._webhooks import bounded_key, hmac_sha256_base64_matches, sha256_hex
from app.connectors.base import WebhookHeaders
from app.errors import InvalidPayload

_PLATFORM = "woocommerce"

# wp_specialchars_decode($secret, ENT_QUOTES): the five special characters, named or numeric
# (numeric ones with any zero padding, hex ones with x or X). One pass, like PHP's strtr, so
# "&amp;lt;" becomes "&lt;", not "<".
_ENTITY = re.compile(r"&(?:(quot|lt|gt|amp)|#0*(34|39|60|62|38)|#[xX]0*(22|27|26));")
_NAMED = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}
_CODES = {"34": '"', "39": "'", "60": "<", "62": ">", "38": "&", "22": '"', "27": "'", "26": "&"}


def decode_secret(secret: str) -> str:
    """The secret as WooCommerce signs with it: HTML entities decoded first."""

    def replace(match: re.Match[str]) -> str:
        named, decimal, hexadecimal = match.groups()
        return _NAMED[named] if named else _CODES[decimal or hexadecimal]

    return _ENTITY.sub(replace, secret)


def verify_signature(raw_body: bytes, signature: str | None, secrets: list[str]) -> bool:
    """``X-WC-Webhook-Signature`` against the webhook's secret(s)."""
    keys = (decode_secret(s).encode("utf-8") for s in secrets)
    return hmac_sha256_base64_matches(raw_body, signature, keys)


def dedupe_key(topic: str, raw_body: bytes, headers: WebhookHeaders) -> str:
    """WooCommerce has no event id (its delivery id is a hash of webhook id and the current
    second), and its body is rendered at send time, so a resource's id plus its modification
    time names one state of it."""
    try:
        payload = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"{topic} body is not valid JSON") from exc
    delivery = headers.extra.get("x-wc-webhook-delivery-id") or sha256_hex(raw_body)
    if topic.startswith("action."):
        # {"action": hook, "arg": ...}: no id; answering 400 would count toward disabling the hook.
        return bounded_key(_PLATFORM, f"{_PLATFORM}:{topic}:{delivery}")
    where = f"{topic} body"
    body = require_obj(payload, where)
    resource_id = get_id(body, "id", where)
    version = get_str(body, "date_modified_gmt", where) or get_str(body, "date_modified", where)
    # Deleted resources arrive as {"id": N}: nothing but the delivery tells two of them apart.
    # The modification time has whole seconds only, and two states of an order can share one
    # (paid then completed, a refund right after payment): the body's hash keeps them apart.
    state = f"{version}:{sha256_hex(raw_body)[:16]}" if version else delivery
    return bounded_key(_PLATFORM, f"{_PLATFORM}:{topic}:{resource_id}:{state}")
