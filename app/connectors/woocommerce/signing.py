"""OAuth 1.0a one-legged request signatures, as WooCommerce requires them over plain HTTP
(PLATFORMS.md W2): HMAC-SHA256 with the key ``consumer_secret&``, the parameters in the query
string, and the body left unsigned. Over HTTPS the client uses HTTP Basic instead."""

from __future__ import annotations

from typing import Literal

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY, Client

Method = Literal["GET", "POST", "PUT", "DELETE"]


def oauth_query_url(method: Method, url: str, consumer_key: str, consumer_secret: str) -> str:
    """``url`` (query included) with ``oauth_consumer_key``, ``oauth_nonce``,
    ``oauth_timestamp``, ``oauth_signature_method``, ``oauth_version`` and ``oauth_signature``
    added to its query.

    WooCommerce recomputes the signature over every query parameter it receives, so oauthlib's
    ``oauth_version=1.0`` (which the docs call optional) is signed and checked like the rest. No
    body goes to oauthlib: given a JSON body it would add an ``oauth_body_hash`` parameter, and
    WooCommerce signs no body. oauthlib escapes the secret before appending ``&`` while
    WooCommerce does not; WooCommerce's secrets (``cs_`` and hex digits) read the same either way.
    """
    client = Client(
        consumer_key,
        client_secret=consumer_secret,
        signature_method=SIGNATURE_HMAC_SHA256,
        signature_type=SIGNATURE_TYPE_QUERY,
    )
    signed, _headers, _body = client.sign(url, http_method=method)
    return str(signed)
