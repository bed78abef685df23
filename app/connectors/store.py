"""What Vafa asks of a store: the outbound side of a connector.

Each platform package has a ``client.py`` whose client satisfies :class:`StoreClient`. Clients
speak HTTP with one shared ``httpx.AsyncClient`` per process and never run inside a database
transaction (the job queue calls them between two short ones). Failures are typed, so that
the job runner can tell what to do without knowing the platform:

    StoreError
    ├── StoreUnauthorized      401/403, revoked or wrong credentials: pause the shop's jobs
    ├── StoreRejected          the store refused the input (validation): retrying cannot help
    │   ├── CodeAlreadyExists  a discount code with this text exists already
    │   └── MissingScope       the app was not granted an access scope the call needs: that
    │                          work fails until the owner approves it (the shop is not paused)
    ├── StoreNotFound          the resource (a customer, a code) does not exist on the store
    ├── StoreThrottled         429 / GraphQL THROTTLED: try again after ``retry_after`` seconds
    └── StoreUnavailable       5xx, a timeout, a broken connection: try again later
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from app.connectors.base import CustomerSnapshot, OrderSnapshot


class StoreError(Exception):
    """A call to the store failed. ``message`` never carries credentials or personal data;
    ``code`` is the store's own machine-readable reason where it gives one (WordPress
    ``woocommerce_rest_…`` codes, Shopify ``userErrors`` codes)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class StoreUnauthorized(StoreError):
    pass


class StoreRejected(StoreError):
    pass


class CodeAlreadyExists(StoreRejected):
    pass


class MissingScope(StoreRejected):
    """The credentials work but lack an access scope (Shopify's ``ACCESS_DENIED``). Not
    revoked credentials: only the calls that need the scope fail, each with this reason, until
    the store owner approves the app's new access; the shop's other work goes on."""

    def __init__(
        self, message: str, *, scopes: Sequence[str] = (), code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.scopes = tuple(scopes)


class StoreNotFound(StoreError):
    pass


class StoreThrottled(StoreError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class StoreUnavailable(StoreError):
    pass


class DiscountKind(StrEnum):
    AMOUNT_OFF = "amount_off"  # value: minor units of the shop's currency off the order
    PERCENT_OFF = "percent_off"  # value: 1–100
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"  # 100 % off one product (product_id)


@dataclass(frozen=True, slots=True)
class DiscountSpec:
    """A single-use code for one member, as a redemption asks for it."""

    code: str
    title: str
    kind: DiscountKind
    value: int | None  # see DiscountKind
    currency: str
    exponent: int  # the shop currency's minor-unit exponent, to write amounts as the store does
    customer_id: str  # the platform's customer id
    customer_email: str | None  # WooCommerce binds a coupon to an e-mail address
    starts_at: datetime
    ends_at: datetime | None
    product_id: str | None = None  # FREE_PRODUCT
    min_order_minor: int | None = None
    combines: bool = False  # may the code be combined with other discounts


@dataclass(frozen=True, slots=True)
class StoreDiscount:
    """A code as the store holds it."""

    code: str
    store_id: str  # Shopify: the discount node's GID; WooCommerce: the coupon id
    ends_at: datetime | None
    usage_count: int | None = None


@dataclass(frozen=True, slots=True)
class StoreWebhook:
    store_id: str
    topic: str
    address: str
    active: bool


class StoreClient(Protocol):
    async def create_discount(self, spec: DiscountSpec) -> StoreDiscount:
        """Create the code (raises CodeAlreadyExists if its text is taken)."""
        ...

    async def find_discount(self, code: str) -> StoreDiscount | None:
        """The code with exactly this text, if the store has it."""
        ...

    async def set_balance(self, customer_id: str, points: int, tier: str | None) -> None:
        """Write the member's balance (and tier) on the store's customer record (raises
        StoreNotFound for a customer the store does not know)."""
        ...

    async def get_customer(self, customer_id: str) -> CustomerSnapshot | None: ...

    async def list_webhooks(self) -> list[StoreWebhook]: ...

    async def ensure_webhooks(self, address: str, topics: Sequence[str]) -> list[StoreWebhook]:
        """One active subscription per topic at ``address``: creates what is missing,
        re-enables what the store disabled, leaves the rest; idempotent."""
        ...

    def orders_modified_since(self, since: datetime) -> AsyncIterator[list[OrderSnapshot]]:
        """Orders changed after ``since``, a page at a time, as the same snapshots webhooks
        give."""
        ...

    async def product_groups(self, product_ids: Sequence[str]) -> dict[str, set[str]]:
        """Each product's groups as ``app.program.catalog.group_key`` writes them (Shopify's
        collections and product type, WooCommerce's categories); a product the store does not
        have is left out."""
        ...

    async def aclose(self) -> None:
        """Release what the client holds of its own (not the shared HTTP client)."""
        ...
