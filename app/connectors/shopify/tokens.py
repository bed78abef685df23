"""Admin API access tokens: a fixed one, or one from the client credentials grant, refreshed.

Since 1 January 2026 a store owner makes apps in the Dev Dashboard, whose tokens expire; Vafa
asks for them with the app's client id and secret (``POST {api_url}/admin/oauth/access_token``,
``grant_type=client_credentials``) and keeps the current one sealed with the shop's other
credentials, so a restarted process does not ask again while it is still good.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import orjson

from app.connectors.store import StoreRejected, StoreUnauthorized, StoreUnavailable
from app.crypto import Vault
from app.db import Database
from app.shops.models import Shop

# Ask for a new token this long before the current one expires; a token that lives shorter
# than twice this is renewed at half its life instead.
REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str = field(repr=False)  # never in a log line or traceback
    expires_at: datetime | None = None  # None: does not expire


class TokenStore(Protocol):
    """Where a refreshed token is kept (sealed with the shop's credentials)."""

    async def save(self, token: AccessToken) -> None: ...


class TokenSource(Protocol):
    async def token(self) -> str:
        """A token good for the next request."""
        ...

    async def refresh(self, rejected: str) -> bool:
        """The store refused ``rejected`` (401): get a new one if this source can; whether it
        did (False: the same refusal would follow)."""
        ...


class FixedToken:
    """A token given by the owner (``--access-token``): nothing to refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        return self._token

    async def refresh(self, rejected: str) -> bool:
        return False


class ClientCredentials:
    """Tokens from the client credentials grant, renewed before they expire and once on a 401.

    Concurrent requests share one renewal (a lock), and a request that was refused with a token
    already replaced by another request's renewal just uses the new one.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        store: TokenStore | None = None,
        current: AccessToken | None = None,
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._http = http
        self._url = f"{api_url.rstrip('/')}/admin/oauth/access_token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._store = store
        self._current = current
        self._margin = margin_seconds
        self._lock = asyncio.Lock()
        self._lifetime: float | None = None

    @property
    def current(self) -> AccessToken | None:
        return self._current

    async def token(self) -> str:
        current = self._current
        if current is not None and not self._due(current):
            return current.token
        async with self._lock:
            if self._current is None or self._due(self._current):
                self._current = await self._request()
            return self._current.token

    async def refresh(self, rejected: str) -> bool:
        async with self._lock:
            if self._current is None or self._current.token == rejected:
                self._current = await self._request()
        return True

    def _due(self, token: AccessToken) -> bool:
        if token.expires_at is None:
            return False
        margin = self._margin
        if self._lifetime is not None:
            margin = min(margin, self._lifetime / 2)
        return datetime.now(UTC) >= token.expires_at - timedelta(seconds=margin)

    async def _request(self) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = await self._http.post(
                self._url, data=form, headers={"Accept": "application/json"}
            )
        except httpx.TimeoutException as exc:
            raise StoreUnavailable("the token endpoint timed out") from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"the token endpoint is unreachable ({type(exc).__name__})"
            ) from exc
        status = response.status_code
        if status in (400, 401, 403):
            # Shopify answers a wrong id or secret with 400 invalid_client.
            raise StoreUnauthorized(
                f"the store refused the app's client id and secret (HTTP {status})", status=status
            )
        if status >= 500 or status == 429:
            raise StoreUnavailable(f"the token endpoint answered HTTP {status}", status=status)
        if status != 200:
            raise StoreRejected(f"the token endpoint answered HTTP {status}", status=status)
        token = _read_token(response.content)
        if token.expires_at is not None:
            self._lifetime = (token.expires_at - datetime.now(UTC)).total_seconds()
        if self._store is not None:
            await self._store.save(token)
        return token


def _read_token(content: bytes) -> AccessToken:
    try:
        body: Any = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise StoreUnavailable("the token endpoint answered something that is not JSON") from exc
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise StoreUnavailable("the token endpoint's answer has no access_token")
    expires_in = body.get("expires_in")
    if expires_in is None:
        return AccessToken(token)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise StoreUnavailable("the token endpoint's expires_in is not a number of seconds")
    return AccessToken(token, datetime.now(UTC) + timedelta(seconds=float(expires_in)))


class ShopTokenStore:
    """Keeps a shop's current token in its sealed credentials, in a short transaction of its
    own (the store call that needed the token runs outside any transaction)."""

    def __init__(self, db: Database, vault: Vault, shop_id: int) -> None:
        self._db = db
        self._vault = vault
        self._shop_id = shop_id

    async def save(self, token: AccessToken) -> None:
        async with self._db.write() as session:
            shop = await session.get(Shop, self._shop_id, with_for_update=True)
            if shop is None:
                return  # the shop was removed meanwhile: nothing to keep the token for
            creds = self._vault.open(shop.credentials)
            creds.update(sealed_token(token))
            shop.credentials = self._vault.seal(creds)


def sealed_token(token: AccessToken) -> dict[str, str | None]:
    """How a token sits in a shop's credentials."""
    expires = token.expires_at.isoformat() if token.expires_at else None
    return {"access_token": token.token, "access_token_expires_at": expires}


def stored_token(creds: dict[str, Any]) -> AccessToken | None:
    """The token kept in a shop's credentials, if any."""
    token = creds.get("access_token")
    if not isinstance(token, str) or not token:
        return None
    expires = creds.get("access_token_expires_at")
    return AccessToken(token, datetime.fromisoformat(expires) if isinstance(expires, str) else None)
