"""WooCommerce REST v3, the outbound side: coupons, the balance on the customer, webhooks and
the orders for the reconciliation sweep (PLATFORMS.md W2, DESIGN.md "Calls to the stores").

Authentication follows what WooCommerce accepts: HTTP Basic with the consumer key and secret
over HTTPS, OAuth 1.0a one-legged query signatures over plain HTTP (signing.py). Failures come
out as the typed :class:`~app.connectors.store.StoreError` s; WordPress answers errors as
``{"code", "message", "data": {"status"}}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx
import orjson
import structlog

from app.connectors._json import (
    JsonObj,
    get_count,
    get_datetime,
    get_id,
    get_objs,
    get_str,
    require_obj,
    require_str,
)
from app.connectors.base import CustomerSnapshot, OrderSnapshot
from app.connectors.store import (
    CodeAlreadyExists,
    DiscountKind,
    DiscountSpec,
    StoreClient,
    StoreDiscount,
    StoreError,
    StoreNotFound,
    StoreRejected,
    StoreThrottled,
    StoreUnauthorized,
    StoreUnavailable,
    StoreWebhook,
)
from app.connectors.woocommerce.parse import parse_customer, parse_order
from app.connectors.woocommerce.signing import Method, oauth_query_url
from app.errors import InvalidPayload
from app.money import from_minor
from app.program.catalog import group_key

log = structlog.get_logger(__name__)

API_PATH = "/wp-json/wc/v3"
PAGE_SIZE = 100  # the most WooCommerce returns per page
# A call is one short request; the job queue retries a timeout, so waiting long gains nothing.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# When a 429 carries no usable Retry-After.
DEFAULT_RETRY_AFTER = 5.0
POINTS_KEY, TIER_KEY = "vafa_points", "vafa_tier"

_ALREADY_EXISTS = "woocommerce_rest_coupon_code_already_exists"
# The customers controller answers an unknown id on update with 400, on read with 404.
_NOT_FOUND_CODES = frozenset({"woocommerce_rest_invalid_id", "rest_no_route"})
_MAX_MESSAGE = 300  # of the store's own message, kept in ours


@dataclass(frozen=True, slots=True)
class _Hook:
    webhook: StoreWebhook
    status: str  # active | paused | disabled


class WooCommerceClient:
    """One store. ``http`` is the process's shared client; nothing here closes it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        webhook_secret: str,
        exponents: Mapping[str, int] | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._http = http
        self._base = url.rstrip("/") + API_PATH
        # Basic sends the secret itself, so only where TLS protects it.
        self._oauth = not url.lower().startswith("https://")
        self._key = consumer_key
        self._secret = consumer_secret
        self._webhook_secret = webhook_secret
        self._exponents: Mapping[str, int] = exponents or {}
        self._timeout = timeout
        self._page_size = page_size

    @classmethod
    def from_credentials(
        cls,
        http: httpx.AsyncClient,
        *,
        url: str,
        credentials: Mapping[str, Any],
        exponents: Mapping[str, int] | None = None,
    ) -> WooCommerceClient:
        """From a shop's opened credentials (``Vault.open``): its current webhook secret is the
        one new subscriptions get."""
        return cls(
            http,
            url=url,
            consumer_key=str(credentials["consumer_key"]),
            consumer_secret=str(credentials["consumer_secret"]),
            webhook_secret=str(credentials["webhook_secrets"][0]),
            exponents=exponents,
        )

    async def aclose(self) -> None:
        return None  # holds nothing of its own

    # --- coupons -----------------------------------------------------------------------------

    async def create_discount(self, spec: DiscountSpec) -> StoreDiscount:
        response = await self._request("POST", "/coupons", json=coupon_body(spec))
        return _discount(_obj(response, "coupon"))

    async def find_discount(self, code: str) -> StoreDiscount | None:
        # ?code= is an exact lookup (wc_get_coupon_id_by_code), not a search; WooCommerce keeps
        # codes lower-cased, so the comparison is too.
        response = await self._request("GET", "/coupons", params={"code": code})
        for item in _list(response, "coupons"):
            coupon = require_obj(item, "coupon")
            if (get_str(coupon, "code", "coupon") or "").lower() == code.lower():
                return _discount(coupon)
        return None

    # --- customers ---------------------------------------------------------------------------

    async def set_balance(self, customer_id: str, points: int, tier: str | None) -> None:
        # meta_data entries given by key replace that key's value; WordPress keeps meta as text.
        body = {
            "meta_data": [
                {"key": POINTS_KEY, "value": str(points)},
                {"key": TIER_KEY, "value": tier or ""},
            ]
        }
        await self._request("PUT", f"/customers/{_numeric_id(customer_id)}", json=body)

    async def get_customer(self, customer_id: str) -> CustomerSnapshot | None:
        try:
            response = await self._request("GET", f"/customers/{_numeric_id(customer_id)}")
        except StoreNotFound as exc:
            if exc.code == "rest_no_route":  # no customers endpoint at all: not "no customer"
                raise
            return None
        try:
            return parse_customer(_obj(response, "customer"))
        except InvalidPayload as exc:
            raise _unexpected("GET /customers/{id}", exc) from exc

    # --- webhooks ----------------------------------------------------------------------------

    async def list_webhooks(self) -> list[StoreWebhook]:
        return [hook.webhook for hook in await self._hooks()]

    async def ensure_webhooks(self, address: str, topics: Sequence[str]) -> list[StoreWebhook]:
        """One subscription per topic at ``address``. A hook WooCommerce ``disabled`` after
        failed deliveries is re-enabled (with the shop's current secret); one the owner
        ``paused`` is left paused. Duplicates at the same address are deleted."""
        existing = await self._hooks()
        result: list[StoreWebhook] = []
        for topic in dict.fromkeys(topics):
            mine = [
                h for h in existing if h.webhook.topic == topic and h.webhook.address == address
            ]
            if not mine:
                result.append(await self._create_hook(address, topic))
                continue
            keep = next((h for h in mine if h.status == "active"), mine[0])
            for extra in mine:
                if extra is not keep:
                    path = f"/webhooks/{_numeric_id(extra.webhook.store_id)}"
                    await self._request("DELETE", path, params={"force": "true"})
            if keep.status == "disabled":
                path = f"/webhooks/{_numeric_id(keep.webhook.store_id)}"
                body = {"status": "active", "secret": self._webhook_secret}
                keep = _hook(_obj(await self._request("PUT", path, json=body), "webhook"))
            result.append(keep.webhook)
        return result

    async def _create_hook(self, address: str, topic: str) -> StoreWebhook:
        body = {
            "name": f"Vafa {topic}",
            "topic": topic,
            "delivery_url": address,
            "secret": self._webhook_secret,
            "status": "active",
        }
        return _hook(_obj(await self._request("POST", "/webhooks", json=body), "webhook")).webhook

    async def _hooks(self) -> list[_Hook]:
        return [
            _hook(require_obj(item, "webhook"))
            async for page in self._pages("/webhooks", {})
            for item in page
        ]

    # --- settings ----------------------------------------------------------------------------

    async def set_setting(self, group: str, option: str, value: str) -> None:
        """``PUT /settings/{group}/{option}``: a plugin's option, in the group it registered
        (``woocommerce_settings_groups``); needs read_write keys of a store manager."""
        path = f"/settings/{_slug(group)}/{_slug(option)}"
        await self._request("PUT", path, json={"value": value})

    # --- orders ------------------------------------------------------------------------------

    async def orders_modified_since(self, since: datetime) -> AsyncIterator[list[OrderSnapshot]]:
        """A page at a time, oldest id first: an order modified while the sweep runs can then
        only shift later pages onto ones already read (seen twice), never past the reader."""
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        # WooCommerce keeps whole seconds and modified_after is strict: an order changed later
        # within since's second (or at it) is stored at that second, so ask from one before.
        after = _wc_time(since - timedelta(seconds=1))
        params = {
            "modified_after": after,
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
        }
        async for page in self._pages("/orders", params):
            snapshots: list[OrderSnapshot] = []
            for item in page:
                try:
                    snapshots.append(parse_order(require_obj(item, "order"), self._exponents))
                except InvalidPayload as exc:
                    # Intake refuses the same body from a webhook; one bad order must not stop
                    # the sweep for every other.
                    log.warning("woocommerce_order_unparsable", error=str(exc))
            yield snapshots

    # --- the catalog -------------------------------------------------------------------------

    async def product_groups(self, product_ids: Sequence[str]) -> dict[str, set[str]]:
        """Each product's categories (slug and id) as group keys, read ``include``-d a page of
        100 at a time; an order line names the parent of a variation, which carries them. A
        product the store does not have (or an id that cannot be one) is left out."""
        ids = [pid for pid in dict.fromkeys(product_ids) if pid.isascii() and pid.isdecimal()]
        found: dict[str, set[str]] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            params = {"include": ",".join(chunk), "per_page": str(PAGE_SIZE)}
            response = await self._request("GET", "/products", params=params)
            try:
                for item in _list(response, "products"):
                    product = require_obj(item, "product")
                    found[get_id(product, "id", "product")] = _categories(product)
            except InvalidPayload as exc:
                raise _unexpected("GET /products", exc) from exc
        return found

    # --- HTTP --------------------------------------------------------------------------------

    async def _pages(self, path: str, params: Mapping[str, str]) -> AsyncIterator[list[object]]:
        page, last = 1, 1
        while page <= last:
            query = {**params, "per_page": str(self._page_size), "page": str(page)}
            response = await self._request("GET", path, params=query)
            yield _list(response, path.strip("/"))
            last = _total_pages(response)
            page += 1

    async def _request(
        self,
        method: Method,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> httpx.Response:
        url = self._base + path
        if params:
            url += "?" + urlencode(list(params.items()), quote_via=quote)
        auth: httpx.BasicAuth | None = None
        if self._oauth:
            url = oauth_query_url(method, url, self._key, self._secret)
        else:
            auth = httpx.BasicAuth(self._key, self._secret)
        where = f"{method} {path}"
        try:
            response = await self._http.request(
                method,
                url,
                content=None if json is None else orjson.dumps(json),
                headers={"Accept": "application/json", "Content-Type": "application/json"},
                auth=auth,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(f"WooCommerce did not answer {where} in time") from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"WooCommerce could not be reached for {where}: {type(exc).__name__}"
            ) from exc
        if response.is_success:
            return response
        raise store_error(response, where)


def coupon_body(spec: DiscountSpec) -> dict[str, object]:
    """The ``POST /coupons`` body for a single-use code bound to one member's e-mail."""
    if not spec.customer_email:
        raise StoreRejected(
            "a WooCommerce coupon is bound to the member's e-mail address, and there is none",
            code="vafa_no_email",
        )
    body: dict[str, object] = {
        "code": spec.code,
        "description": spec.title,
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        "email_restrictions": [spec.customer_email.strip().lower()],
        "individual_use": not spec.combines,
        # WooCommerce coupons have no start: a code exists from the moment it is issued.
        "date_expires_gmt": _wc_time(spec.ends_at) if spec.ends_at else None,
    }
    if spec.kind is DiscountKind.AMOUNT_OFF:
        body |= {"discount_type": "fixed_cart", "amount": _decimal(_value(spec), spec.exponent)}
    elif spec.kind is DiscountKind.PERCENT_OFF:
        body |= {"discount_type": "percent", "amount": str(_value(spec))}
    elif spec.kind is DiscountKind.FREE_SHIPPING:
        body |= {"discount_type": "fixed_cart", "amount": "0", "free_shipping": True}
    elif spec.kind is DiscountKind.FREE_PRODUCT:
        if not spec.product_id or not spec.product_id.isdecimal():
            raise StoreRejected("a free-product code needs the product's WooCommerce id")
        # One unit free: a percent coupon otherwise covers every unit of the product in the cart.
        body |= {
            "discount_type": "percent",
            "amount": "100",
            "product_ids": [int(spec.product_id)],
            "limit_usage_to_x_items": 1,
        }
    if spec.min_order_minor:
        body["minimum_amount"] = _decimal(spec.min_order_minor, spec.exponent)
    return body


def store_error(response: httpx.Response, where: str) -> StoreError:
    """The typed failure for a non-2xx answer (public for the fakes' own tests)."""
    status = response.status_code
    code, text = _wp_error(response)
    detail = f"{code}: {text}" if code else text
    message = f"WooCommerce answered {where} with {status} ({detail})"
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return StoreThrottled(message, retry_after=retry_after, status=status, code=code)
    if status >= 500:
        return StoreUnavailable(message, status=status, code=code)
    if code == _ALREADY_EXISTS:
        return CodeAlreadyExists(message, status=status, code=code)
    if status in (401, 403):
        return StoreUnauthorized(message, status=status, code=code)
    if status == 404 or code in _NOT_FOUND_CODES:
        return StoreNotFound(message, status=status, code=code)
    if 300 <= status < 400:  # e.g. http:// → https://, or the www host: the URL is not the store's
        return StoreRejected(
            f"WooCommerce redirected {where} ({status}): give the store URL as it reports it",
            status=status,
            code="redirect",
        )
    return StoreRejected(message, status=status, code=code)


def _wp_error(response: httpx.Response) -> tuple[str | None, str]:
    """WordPress's ``{"code", "message"}``, or the reason phrase for anything else (a proxy's
    HTML page)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        code, text = body.get("code"), body.get("message")
        if isinstance(code, str) and code:
            message = text if isinstance(text, str) else ""
            return code[:100], message[:_MAX_MESSAGE]
    return None, response.reason_phrase or "no reason given"


def _retry_after(value: str | None) -> float:
    """Seconds, or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    text = value.strip()
    if text.isdecimal():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _total_pages(response: httpx.Response) -> int:
    value = response.headers.get("X-WP-TotalPages", "1").strip()
    return int(value) if value.isdecimal() else 1


def _json(response: httpx.Response, what: str) -> object:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise StoreUnavailable(
            f"WooCommerce answered with something that is not JSON for {what}",
            status=response.status_code,
        ) from exc


def _obj(response: httpx.Response, what: str) -> JsonObj:
    value = _json(response, what)
    if not isinstance(value, dict):
        raise StoreUnavailable(f"WooCommerce answered with no {what} object")
    return value


def _list(response: httpx.Response, what: str) -> list[object]:
    value = _json(response, what)
    if not isinstance(value, list):
        raise StoreUnavailable(f"WooCommerce answered with no list of {what}")
    return value


def _unexpected(what: str, exc: InvalidPayload) -> StoreUnavailable:
    return StoreUnavailable(f"WooCommerce's answer to {what} is not what REST v3 sends: {exc}")


def _discount(coupon: JsonObj) -> StoreDiscount:
    try:
        return StoreDiscount(
            code=require_str(coupon, "code", "coupon"),
            store_id=get_id(coupon, "id", "coupon"),
            ends_at=get_datetime(coupon, "date_expires_gmt", "coupon", assume_utc=True),
            usage_count=get_count(coupon, "usage_count", "coupon", default=0),
        )
    except InvalidPayload as exc:
        raise _unexpected("a coupon", exc) from exc


def _hook(webhook: JsonObj) -> _Hook:
    try:
        status = get_str(webhook, "status", "webhook") or ""
        return _Hook(
            StoreWebhook(
                store_id=get_id(webhook, "id", "webhook"),
                topic=get_str(webhook, "topic", "webhook") or "",
                address=get_str(webhook, "delivery_url", "webhook") or "",
                active=status == "active",
            ),
            status,
        )
    except InvalidPayload as exc:
        raise _unexpected("a webhook", exc) from exc


def _categories(product: JsonObj) -> set[str]:
    groups = set()
    for item in get_objs(product, "categories", "product"):
        groups.add(group_key("category", get_id(item, "id", "product.categories[]")))
        slug = get_str(item, "slug", "product.categories[]")
        if slug:
            groups.add(group_key("category", slug))
    return groups


def _numeric_id(value: str) -> str:
    """WooCommerce ids are positive integers; anything else names nothing there (and must not
    reach the URL path)."""
    if not (value.isascii() and value.isdecimal()) or int(value) == 0:
        raise StoreNotFound(f"{value[:40]!r} is not a WooCommerce id", code="vafa_not_an_id")
    return value


def _slug(value: str) -> str:
    """A settings group or option id as WooCommerce routes them (``[\\w-]+``)."""
    if not value or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value):
        raise ValueError(f"{value[:40]!r} is not a WooCommerce settings id")
    return value


def _value(spec: DiscountSpec) -> int:
    if spec.value is None or spec.value < 1:
        raise StoreRejected(f"a {spec.kind.value} code needs a positive value")
    if spec.kind is DiscountKind.PERCENT_OFF and spec.value > 100:
        raise StoreRejected("a percentage is at most 100")
    return spec.value


def _decimal(minor: int, exponent: int) -> str:
    """Minor units as the store's decimal string: 5000 at exponent 2 → ``"50.00"``."""
    return format(from_minor(minor, exponent), "f")


def _wc_time(value: datetime) -> str:
    """WooCommerce's ``*_gmt`` form: UTC, whole seconds, no offset."""
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat()


if TYPE_CHECKING:  # mypy holds the client to the Protocol the job queue calls

    def _is_store_client(client: WooCommerceClient) -> StoreClient:
        return client
