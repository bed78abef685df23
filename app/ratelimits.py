"""Rate limits on what strangers can call in a loop: the storefront API (each client address
and each signed-in customer a budget per minute, redeeming a smaller one: each redemption is a
call to the store) and the admin's sign-in (per address and per e-mail, against guessing).
Over budget: 429 with ``Retry-After``.

Through Shopify's app proxy every request comes from Shopify's servers, so an address budget
there would be one budget for every shopper of every shop: those routes take a budget per
signed-in customer of the shop, or one for the shop's guests, after the signature is checked.

The counters live in this process (``limits``' memory storage, moving windows): both are served
by ``vafa serve``, one process on a small machine; ``memory://`` can be replaced by a ``limits``
storage URI shared by several processes.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.requests import Request

from app.errors import AppError

PER_ADDRESS = "120/minute"
PER_CUSTOMER = "60/minute"
# All the guests of one shop behind the app proxy, where no address tells them apart.
PER_SHOP_GUESTS = "600/minute"
REDEEM_PER_CUSTOMER = "10/minute"


def client_address(request: Request) -> str:
    """The caller's address. Behind a reverse proxy this is the forwarded client only when
    uvicorn trusts that proxy's headers (``vafa serve --proxy-headers`` with
    VAFA_FORWARDED_ALLOW_IPS naming it); otherwise it is the proxy's own address."""
    return request.client.host if request.client else "unknown"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    example = "too many requests; try again in 12 seconds"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class _Budgets:
    def __init__(self, storage_uri: str) -> None:
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri))

    async def _take(self, item: RateLimitItem, *key: str) -> None:
        if await self._limiter.hit(item, *key):
            return
        stats = await self._limiter.get_window_stats(item, *key)
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        raise RateLimited(f"too many requests; try again in {wait} seconds", wait)


class StorefrontLimits(_Budgets):
    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        per_address: str = PER_ADDRESS,
        per_customer: str = PER_CUSTOMER,
        per_shop_guests: str = PER_SHOP_GUESTS,
        redeem_per_customer: str = REDEEM_PER_CUSTOMER,
    ) -> None:
        super().__init__(storage_uri)
        self.per_address = parse(per_address)
        self.per_customer = parse(per_customer)
        self.per_shop_guests = parse(per_shop_guests)
        self.redeem_per_customer = parse(redeem_per_customer)

    async def address(self, address: str) -> None:
        """Before anything is checked: bounds what one client can make Vafa do."""
        await self._take(self.per_address, "address", address)

    async def customer(self, shop_id: int, customer_id: str) -> None:
        await self._take(self.per_customer, "customer", str(shop_id), customer_id)

    async def guests(self, shop_id: int) -> None:
        """The app proxy's guests of one shop, together (their address is Shopify's)."""
        await self._take(self.per_shop_guests, "guests", str(shop_id))

    async def redemption(self, shop_id: int, customer_id: str) -> None:
        await self._take(self.redeem_per_customer, "redeem", str(shop_id), customer_id)


class SignInLimits(_Budgets):
    """Sign-in attempts: per client address and per e-mail address (whoever is guessing)."""

    def __init__(
        self, storage_uri: str = "memory://", *, per_address: str = "20/minute",
        per_email: str = "5/minute",
    ) -> None:  # fmt: skip
        super().__init__(storage_uri)
        self.per_address = parse(per_address)
        self.per_email = parse(per_email)

    async def attempt(self, address: str, email: str) -> None:
        await self._take(self.per_address, "sign-in address", address)
        await self._take(self.per_email, "sign-in email", email.strip().lower())


class ConnectLimits(_Budgets):
    """Starting a WooCommerce connect (each makes a pending shop and a call to the store's
    address later): per client address."""

    def __init__(self, storage_uri: str = "memory://", *, per_address: str = "10/minute") -> None:
        super().__init__(storage_uri)
        self.per_address = parse(per_address)

    async def address(self, address: str) -> None:
        await self._take(self.per_address, "connect address", address)
