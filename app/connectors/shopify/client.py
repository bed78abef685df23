"""Vafa's calls to a Shopify store: Admin GraphQL over the process's one httpx client.

Every input travels as GraphQL ``variables``, never inside the query text. Failures become the
typed :mod:`app.connectors.store` errors: ``userErrors`` → :class:`StoreRejected` (a taken code
→ :class:`CodeAlreadyExists`), 401/403 → :class:`StoreUnauthorized` (after one token refresh
where the token comes from the client credentials grant), ``ACCESS_DENIED`` (a scope the app
was not granted) → :class:`MissingScope`, 5xx and timeouts →
:class:`StoreUnavailable`. The cost throttle is honoured both ways: no request leaves before the
bucket, as last seen, can pay for it, and a ``THROTTLED`` answer or a 429 waits for the time the
store names. A wait up to ``max_wait`` seconds is slept here; a longer one is raised as
:class:`StoreThrottled` for the job queue to schedule.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
import structlog

from app.connectors._json import (
    JsonObj,
    get_datetime,
    get_obj,
    get_objs,
    get_str,
    get_text,
    require_str,
)
from app.connectors.base import CustomerSnapshot, OrderSnapshot
from app.connectors.shopify.catalog import (
    COLLECTIONS_MORE_PAGE,
    PRODUCT_COLLECTIONS_QUERY,
    PRODUCT_GROUPS_QUERY,
    PRODUCTS_PER_QUERY,
    product_groups,
)
from app.connectors.shopify.gid import from_gid, to_gid
from app.connectors.shopify.graphql_orders import (
    LINES_PAGE,
    ORDER_LINES_QUERY,
    ORDERS_PAGE,
    ORDERS_QUERY,
    REFUND_LINES_PAGE,
    REFUND_LINES_QUERY,
    connection_nodes,
    next_cursor,
    parse_graphql_order,
)
from app.connectors.shopify.throttle import CostBucket
from app.connectors.shopify.tokens import (
    ClientCredentials,
    FixedToken,
    ShopTokenStore,
    TokenSource,
    stored_token,
)
from app.connectors.store import (
    CodeAlreadyExists,
    DiscountKind,
    DiscountSpec,
    MissingScope,
    StoreDiscount,
    StoreError,
    StoreNotFound,
    StoreRejected,
    StoreThrottled,
    StoreUnauthorized,
    StoreUnavailable,
    StoreWebhook,
)
from app.crypto import Vault
from app.db import Database
from app.errors import InvalidPayload
from app.limits import MAX_CODE_LENGTH, MAX_EMAIL_LENGTH, MAX_PERSON_NAME_LENGTH
from app.money import from_minor
from app.program.settings import ProgramSettings
from app.shops.models import Shop

log = structlog.get_logger(__name__)

# The one Admin API version Vafa speaks. 2026-10 has the discount ``context`` input (which
# replaced ``customerSelection`` in 2026-01) and ``Customer.defaultEmailAddress``.
API_VERSION = "2026-10"
METAFIELD_NAMESPACE = "vafa"
# Waits up to this long are slept inside the call; longer ones go back to the job queue.
MAX_WAIT_SECONDS = 2.0
# Throttled answers retried within one call before it gives up with StoreThrottled.
MAX_THROTTLE_RETRIES = 3
WEBHOOKS_PAGE = 100
# A scope's handle as Shopify names it in an ACCESS_DENIED answer ("`read_products` access").
_SCOPE_NAME = re.compile(r"\b(?:read|write|unauthenticated_read|unauthenticated_write)_[a-z_]+\b")
# Statuses that mean the shop itself is out of reach for the app (closed for non-payment, locked,
# gone): a retry cannot help, the operator has to look, as for revoked credentials.
_SHOP_UNAVAILABLE = {402: "Payment Required", 404: "Not Found", 423: "Locked"}

_CODE_FIELDS = """
  title startsAt endsAt usageLimit asyncUsageCount appliesOncePerCustomer
  codes(first: 1) { nodes { code } }
"""
_NODE_FIELDS = f"""
  id
  codeDiscount {{
    __typename
    ... on DiscountCodeBasic {{ {_CODE_FIELDS} }}
    ... on DiscountCodeFreeShipping {{ {_CODE_FIELDS} }}
  }}
"""
_USER_ERRORS = "userErrors { field message code }"

BASIC_CREATE = f"""
mutation VafaDiscountBasicCreate($input: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $input) {{
    codeDiscountNode {{ {_NODE_FIELDS} }}
    {_USER_ERRORS}
  }}
}}
"""
FREE_SHIPPING_CREATE = f"""
mutation VafaDiscountFreeShippingCreate($input: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {{
    codeDiscountNode {{ {_NODE_FIELDS} }}
    {_USER_ERRORS}
  }}
}}
"""
FIND_CODE = f"""
query VafaDiscountByCode($code: String!) {{
  codeDiscountNodeByCode(code: $code) {{ {_NODE_FIELDS} }}
}}
"""
SET_BALANCE = f"""
mutation VafaSetBalance($metafields: [MetafieldsSetInput!]!) {{
  metafieldsSet(metafields: $metafields) {{ metafields {{ key value }} {_USER_ERRORS} }}
}}
"""
# One request: write the points and remove a tier the member no longer has.
SET_BALANCE_NO_TIER = f"""
mutation VafaSetBalanceNoTier(
  $metafields: [MetafieldsSetInput!]!, $remove: [MetafieldIdentifierInput!]!
) {{
  metafieldsSet(metafields: $metafields) {{ metafields {{ key value }} {_USER_ERRORS} }}
  metafieldsDelete(metafields: $remove) {{
    deletedMetafields {{ key }} userErrors {{ field message }}
  }}
}}
"""
GET_CUSTOMER = """
query VafaCustomer($id: ID!) {
  customer(id: $id) {
    id firstName lastName updatedAt
    defaultEmailAddress { emailAddress marketingState }
  }
}
"""
LIST_WEBHOOKS = """
query VafaWebhooks($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri }
  }
}
"""
CREATE_WEBHOOK = """
mutation VafaWebhookCreate($topic: WebhookSubscriptionTopic!, $input: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $input) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


def webhook_topic(topic: str) -> str:
    """Vafa's (and the webhook header's) ``orders/create`` → GraphQL's ``ORDERS_CREATE``."""
    return topic.replace("/", "_").upper()


class ShopifyClient:
    """One shop's Admin API. Cheap to make; holds only the token state and the cost bucket."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        tokens: TokenSource,
        exponents: Mapping[str, int] | None = None,
        max_wait: float = MAX_WAIT_SECONDS,
        api_version: str = API_VERSION,
        bucket: CostBucket | None = None,
    ) -> None:
        self._http = http
        self._endpoint = f"{api_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._tokens = tokens
        self._exponents = dict(exponents or {})
        self._max_wait = max_wait
        self._bucket = CostBucket() if bucket is None else bucket  # shared: StoreClients

    # -- discount codes -------------------------------------------------------------------

    async def create_discount(self, spec: DiscountSpec) -> StoreDiscount:
        if spec.kind == DiscountKind.FREE_SHIPPING:
            query, operation = FREE_SHIPPING_CREATE, "VafaDiscountFreeShippingCreate"
            root = "discountCodeFreeShippingCreate"
        else:
            query, operation = BASIC_CREATE, "VafaDiscountBasicCreate"
            root = "discountCodeBasicCreate"
        data = await self._graphql(query, {"input": discount_input(spec)}, operation)
        with _readable(root):
            payload = _payload(data, root)
            _raise_user_errors(payload, root)
            node = get_obj(payload, "codeDiscountNode", root)
            if node is None:
                raise StoreUnavailable(f"{root} answered without the discount it made")
            return _store_discount(node, spec.code)

    async def find_discount(self, code: str) -> StoreDiscount | None:
        data = await self._graphql(FIND_CODE, {"code": code}, "VafaDiscountByCode")
        with _readable("codeDiscountNodeByCode"):
            node = get_obj(data, "codeDiscountNodeByCode", "data")
            return None if node is None else _store_discount(node, code)

    # -- customers ------------------------------------------------------------------------

    async def set_balance(self, customer_id: str, points: int, tier: str | None) -> None:
        owner = to_gid("Customer", customer_id)
        metafields = [_metafield(owner, "points", "number_integer", str(points))]
        if tier is not None:
            metafields.append(_metafield(owner, "tier", "single_line_text_field", tier))
            data = await self._graphql(SET_BALANCE, {"metafields": metafields}, "VafaSetBalance")
        else:
            remove = [{"ownerId": owner, "namespace": METAFIELD_NAMESPACE, "key": "tier"}]
            data = await self._graphql(
                SET_BALANCE_NO_TIER,
                {"metafields": metafields, "remove": remove},
                "VafaSetBalanceNoTier",
            )
        with _readable("metafieldsSet"):
            _raise_user_errors(_payload(data, "metafieldsSet"), "metafieldsSet")
            if tier is None:
                _raise_user_errors(_payload(data, "metafieldsDelete"), "metafieldsDelete")

    async def get_customer(self, customer_id: str) -> CustomerSnapshot | None:
        variables = {"id": to_gid("Customer", customer_id)}
        data = await self._graphql(GET_CUSTOMER, variables, "VafaCustomer")
        with _readable("customer"):
            customer = get_obj(data, "customer", "data")
            return None if customer is None else _customer(customer)

    # -- webhooks -------------------------------------------------------------------------

    async def list_webhooks(self) -> list[StoreWebhook]:
        found: list[StoreWebhook] = []
        after: str | None = None
        while True:
            variables = {"first": WEBHOOKS_PAGE, "after": after}
            data = await self._graphql(LIST_WEBHOOKS, variables, "VafaWebhooks")
            with _readable("webhookSubscriptions"):
                connection = get_obj(data, "webhookSubscriptions", "data")
                nodes = connection_nodes(data, "webhookSubscriptions", "data")
                found += [_webhook(node) for node in nodes]
                after = next_cursor(connection, "data.webhookSubscriptions")
            if after is None:
                return found

    async def ensure_webhooks(self, address: str, topics: Sequence[str]) -> list[StoreWebhook]:
        """Shopify has no disabled subscriptions (it deletes those that keep failing), so
        "re-enabling" one is creating it again."""
        existing = {
            (webhook_topic(hook.topic), hook.address): hook for hook in await self.list_webhooks()
        }
        wanted: list[StoreWebhook] = []
        for topic in dict.fromkeys(topics):  # each topic once, in the order given
            hook = existing.get((webhook_topic(topic), address))
            if hook is None:
                hook = await self._create_webhook(address, topic)
            wanted.append(hook)
        return wanted

    async def _create_webhook(self, address: str, topic: str) -> StoreWebhook:
        variables = {
            "topic": webhook_topic(topic),
            "input": {"uri": address, "format": "JSON"},
        }
        data = await self._graphql(CREATE_WEBHOOK, variables, "VafaWebhookCreate")
        root = "webhookSubscriptionCreate"
        with _readable(root):
            payload = _payload(data, root)
            _raise_user_errors(payload, root)
            node = get_obj(payload, "webhookSubscription", root)
            if node is None:
                raise StoreUnavailable(f"{root} answered without the subscription")
            return _webhook(node, topic)

    # -- orders ---------------------------------------------------------------------------

    async def orders_modified_since(self, since: datetime) -> AsyncIterator[list[OrderSnapshot]]:
        """Pages of orders updated after ``since``, oldest change first. An order Vafa cannot
        read is logged (by id) and left out, so that one odd order never stops the sweep."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        search = f"updated_at:>'{stamp}'"
        after: str | None = None
        while True:
            variables = {"first": ORDERS_PAGE, "after": after, "query": search}
            data = await self._graphql(ORDERS_QUERY, variables, "VafaOrdersModifiedSince")
            with _readable("orders"):
                connection = get_obj(data, "orders", "data")
                orders = connection_nodes(data, "orders", "data")
                after = next_cursor(connection, "data.orders")
            page: list[OrderSnapshot] = []
            for order in orders:
                snapshot = await self._order_snapshot(order)
                if snapshot is not None:
                    page.append(snapshot)
            yield page
            if after is None:
                return

    async def _order_snapshot(self, order: JsonObj) -> OrderSnapshot | None:
        try:
            complete = await self._complete_order(order)
            return parse_graphql_order(complete, self._exponents)
        except InvalidPayload as exc:
            log.warning("shopify.sweep.order_unreadable", order=order.get("id"), reason=str(exc))
            return None
        except StoreNotFound:  # deleted while its pages were read: nothing left to reconcile
            return None

    async def _complete_order(self, order: JsonObj) -> JsonObj:
        """The order with every line and every refund line: pages past the first fetched."""
        order_id = require_str(order, "id", "order")
        lines = await self._rest_of(
            order, "lineItems", ORDER_LINES_QUERY, "VafaOrderLines", order_id, LINES_PAGE, "order"
        )
        refunds = []
        for refund in get_objs(order, "refunds", "order"):
            refund_lines = await self._rest_of(
                refund,
                "refundLineItems",
                REFUND_LINES_QUERY,
                "VafaRefundLines",
                require_str(refund, "id", "order.refunds[]"),
                REFUND_LINES_PAGE,
                "refund",
            )
            refunds.append({**refund, "refundLineItems": {"nodes": refund_lines}})
        return {**order, "lineItems": {"nodes": lines}, "refunds": refunds}

    async def _rest_of(
        self,
        owner: JsonObj,
        field: str,
        query: str,
        operation: str,
        owner_id: str,
        page_size: int,
        root: str,
    ) -> list[JsonObj]:
        nodes = list(connection_nodes(owner, field, root))
        after = next_cursor(get_obj(owner, field, root), f"{root}.{field}")
        while after is not None:
            variables = {"id": owner_id, "first": page_size, "after": after}
            data = await self._graphql(query, variables, operation)
            parent = get_obj(data, root, "data")
            if parent is None:
                raise StoreNotFound(f"the {root} went away while its {field} were read")
            nodes += connection_nodes(parent, field, root)
            after = next_cursor(get_obj(parent, field, root), f"{root}.{field}")
        return nodes

    # -- the catalog ----------------------------------------------------------------------

    async def product_groups(self, product_ids: Sequence[str]) -> dict[str, set[str]]:
        """Each product's collections (handle and id) and product type as group keys; a
        product the store does not have is left out."""
        found: dict[str, set[str]] = {}
        ids = list(dict.fromkeys(product_ids))
        for start in range(0, len(ids), PRODUCTS_PER_QUERY):
            gids = [to_gid("Product", pid) for pid in ids[start : start + PRODUCTS_PER_QUERY]]
            data = await self._graphql(PRODUCT_GROUPS_QUERY, {"ids": gids}, "VafaProductGroups")
            with _readable("nodes"):
                raw = data.get("nodes")
                nodes = raw if isinstance(raw, list) else []
                for node in nodes:
                    if not isinstance(node, dict) or not node.get("id"):
                        continue  # gone, or not a product
                    product_gid = require_str(node, "id", "nodes[]")
                    collections = await self._rest_of(
                        node, "collections", PRODUCT_COLLECTIONS_QUERY, "VafaProductCollections",
                        product_gid, COLLECTIONS_MORE_PAGE, "product",
                    )  # fmt: skip
                    found[from_gid(product_gid)] = product_groups(node, collections)
        return found

    async def aclose(self) -> None:
        """Nothing of its own to release: the HTTP client is the process's."""

    # -- transport ------------------------------------------------------------------------

    async def _graphql(self, query: str, variables: Mapping[str, Any], operation: str) -> JsonObj:
        """``data`` of one GraphQL request, after the waits the store asks for."""
        body = orjson.dumps({"query": query, "variables": variables, "operationName": operation})
        retries = 0
        refreshed = False
        while True:
            wait, spent = self._bucket.reserve(operation, self._max_wait)
            await self._wait(wait, retries)
            token = await self._tokens.token()
            response = await self._post(body, token)
            status = response.status_code
            if status == 401 and not refreshed and await self._tokens.refresh(token):
                refreshed = True
                continue
            if status in (401, 403):
                raise StoreUnauthorized(
                    f"the store refused the app's access token (HTTP {status})", status=status
                )
            if status == 429:
                decoded = _json_or_none(response.content)
                if decoded is not None:
                    self._bucket.observe(operation, decoded.get("extensions"), spent)
                wait = self._bucket.throttled(operation)  # called either way: halves the share
                wait = _retry_after(response) or wait
                await self._wait(wait, retries, status=429, must=True)
                retries += 1
                continue
            if status in _SHOP_UNAVAILABLE:
                reason = _SHOP_UNAVAILABLE[status]
                raise StoreUnauthorized(
                    f"the shop is out of reach for the app (HTTP {status} {reason})", status=status
                )
            if status >= 500:
                raise StoreUnavailable(f"the store answered HTTP {status}", status=status)
            if status != 200:
                raise StoreRejected(f"the store answered HTTP {status}", status=status)
            decoded = _json_or_none(response.content)
            if decoded is None:
                raise StoreUnavailable("the store answered something that is not a JSON object")
            self._bucket.observe(operation, decoded.get("extensions"), spent)
            errors = _errors(decoded.get("errors"))
            codes = {_error_code(error) for error in errors}
            if "THROTTLED" in codes:
                await self._wait(self._bucket.throttled(operation), retries, must=True)
                retries += 1
                continue
            if "ACCESS_DENIED" in codes:
                raise _missing_scope(errors)
            if errors:
                raise StoreRejected(f"the store refused the query: {_messages(errors)}")
            data = decoded.get("data")
            if not isinstance(data, dict):
                raise StoreUnavailable("the store answered without data")
            return data

    async def _post(self, body: bytes, token: str) -> httpx.Response:
        headers = {
            "X-Shopify-Access-Token": token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            return await self._http.post(self._endpoint, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise StoreUnavailable("the store did not answer in time") from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"the store is unreachable ({type(exc).__name__})") from exc

    async def _wait(
        self, seconds: float, retries: int, *, status: int | None = None, must: bool = False
    ) -> None:
        """Sleep ``seconds`` if that is short enough, else hand the wait to the job queue.
        ``must``: the store already refused, so give up after MAX_THROTTLE_RETRIES too."""
        if seconds <= 0:
            return
        if seconds > self._max_wait or (must and retries >= MAX_THROTTLE_RETRIES):
            raise StoreThrottled(
                f"the store asks to wait {seconds:.2f} s", retry_after=seconds, status=status
            )
        await asyncio.sleep(seconds)


def discount_input(spec: DiscountSpec) -> dict[str, Any]:
    """The create input for ``spec``: single use, once per customer, for this customer only."""
    flag = spec.combines
    data: dict[str, Any] = {
        "title": spec.title,
        "code": spec.code,
        "startsAt": _iso(spec.starts_at),
        "endsAt": _iso(spec.ends_at) if spec.ends_at else None,
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": {"customers": {"add": [to_gid("Customer", spec.customer_id)]}},
        "combinesWith": {
            "orderDiscounts": flag,
            "productDiscounts": flag,
            "shippingDiscounts": flag,
        },
    }
    if spec.min_order_minor is not None:
        minimum = _decimal(spec.min_order_minor, spec.exponent)
        data["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": minimum}}
    if spec.kind == DiscountKind.FREE_SHIPPING:
        data["destination"] = {"all": True}
        return data
    items: dict[str, Any] = {"all": True}
    if spec.kind == DiscountKind.AMOUNT_OFF:
        if spec.value is None or spec.value < 1:
            raise StoreRejected("an amount-off code needs a value of at least 1 minor unit")
        amount = _decimal(spec.value, spec.exponent)
        value: dict[str, Any] = {"discountAmount": {"amount": amount, "appliesOnEachItem": False}}
    elif spec.kind == DiscountKind.PERCENT_OFF:
        if spec.value is None or not 1 <= spec.value <= 100:
            raise StoreRejected("a percent-off code needs a value from 1 to 100")
        # Shopify's percentage is a Float ratio; every whole percent is exact enough there.
        value = {"percentage": spec.value / 100}
    else:  # FREE_PRODUCT: the whole price off that one product
        if not spec.product_id:
            raise StoreRejected("a free-product code needs the product's id")
        value = {"percentage": 1.0}
        items = {"products": {"productsToAdd": [to_gid("Product", spec.product_id)]}}
    data["customerGets"] = {"value": value, "items": items}
    return data


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _decimal(minor: int, exponent: int) -> str:
    return str(from_minor(minor, exponent).quantize(Decimal(1).scaleb(-exponent)))


def _metafield(owner: str, key: str, kind: str, value: str) -> dict[str, str]:
    return {
        "ownerId": owner,
        "namespace": METAFIELD_NAMESPACE,
        "key": key,
        "type": kind,
        "value": value,
    }


def _payload(data: JsonObj, root: str) -> JsonObj:
    payload = get_obj(data, root, "data")
    if payload is None:
        raise StoreUnavailable(f"the store answered without {root}")
    return payload


def _raise_user_errors(payload: JsonObj, root: str) -> None:
    errors = get_objs(payload, "userErrors", root)
    if not errors:
        return
    first = errors[0]
    raw_field = first.get("field")
    parts = raw_field if isinstance(raw_field, list) else []
    field = [str(part) for part in parts if isinstance(part, str | int)]
    code = get_str(first, "code", f"{root}.userErrors[0]")
    message = get_str(first, "message", f"{root}.userErrors[0]") or "refused"
    where = ".".join(field) or root
    text = f"{root}: {where}: {message}" + (f" ({code})" if code else "")
    if code == "TAKEN" and field and field[-1] == "code":
        raise CodeAlreadyExists(text)
    if field and field[-1] == "ownerId":
        raise StoreNotFound(text)  # metafieldsSet on a customer the store does not have
    raise StoreRejected(text)


def _store_discount(node: JsonObj, asked: str) -> StoreDiscount:
    discount = get_obj(node, "codeDiscount", "codeDiscountNode") or {}
    codes = connection_nodes(discount, "codes", "codeDiscount")
    code = (
        get_text(codes[0], "code", "codeDiscount.codes[0]", max_length=MAX_CODE_LENGTH)
        if codes
        else None
    )
    usage = discount.get("asyncUsageCount")
    return StoreDiscount(
        code=code or asked,
        store_id=require_str(node, "id", "codeDiscountNode"),
        ends_at=get_datetime(discount, "endsAt", "codeDiscount"),
        usage_count=usage if isinstance(usage, int) and not isinstance(usage, bool) else None,
    )


def _customer(customer: JsonObj) -> CustomerSnapshot:
    w = "customer"
    email = get_obj(customer, "defaultEmailAddress", w)
    state = get_str(email, "marketingState", f"{w}.defaultEmailAddress") if email else None
    return CustomerSnapshot(
        customer_id=from_gid(require_str(customer, "id", w)),
        email=(
            get_text(email, "emailAddress", f"{w}.defaultEmailAddress", max_length=MAX_EMAIL_LENGTH)
            if email
            else None
        ),
        first_name=get_text(customer, "firstName", w, max_length=MAX_PERSON_NAME_LENGTH),
        last_name=get_text(customer, "lastName", w, max_length=MAX_PERSON_NAME_LENGTH),
        birthday=None,
        accepts_marketing=None if state is None else state == "SUBSCRIBED",
        updated_at=get_datetime(customer, "updatedAt", w),
    )


def _webhook(node: JsonObj, topic: str | None = None) -> StoreWebhook:
    w = "webhookSubscription"
    enum = require_str(node, "topic", w)
    return StoreWebhook(
        store_id=require_str(node, "id", w),
        # ORDERS_CREATE → orders/create (the first underscore is the topic's slash)
        topic=topic or enum.lower().replace("_", "/", 1),
        address=require_str(node, "uri", w),
        active=True,
    )


def _json_or_none(content: bytes) -> JsonObj | None:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # an HTTP date: Shopify sends seconds; fall back to the bucket's figures
    return seconds if seconds >= 0 else None


def _errors(raw: object) -> list[JsonObj]:
    """A GraphQL ``errors`` list (Shopify also answers some failures with a plain string)."""
    if isinstance(raw, list):
        return [e if isinstance(e, dict) else {"message": str(e)} for e in raw]
    return [{"message": str(raw)}] if raw else []


@contextmanager
def _readable(what: str) -> Iterator[None]:
    """An answer of an unexpected shape is the store's trouble, not a bad input: retry later."""
    try:
        yield
    except InvalidPayload as exc:
        raise StoreUnavailable(f"the store's answer to {what} is not readable: {exc}") from exc


def _error_code(error: JsonObj) -> str | None:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) else None


def _missing_scope(errors: list[JsonObj]) -> MissingScope:
    """Shopify's ``ACCESS_DENIED``: the token is good, but the app was not granted a scope this
    query needs (``requiredAccess``, else the message, names it)."""
    named: list[str] = []
    for error in errors:
        if _error_code(error) != "ACCESS_DENIED":
            continue
        extensions = error.get("extensions")
        required = extensions.get("requiredAccess") if isinstance(extensions, dict) else None
        text = required if isinstance(required, str) else error.get("message")
        for scope in _SCOPE_NAME.findall(text if isinstance(text, str) else ""):
            if scope not in named:
                named.append(scope)
    which = f"the {', '.join(named)} access scope" if named else "an access scope"
    return MissingScope(
        f"the app lacks {which} on the store ({_messages(errors)}): the store "
        "owner must approve the app's updated access (open Vafa in the Shopify admin, or "
        "install it again); until then this work fails",
        scopes=named,
        code="ACCESS_DENIED",
    )


def _messages(errors: list[JsonObj]) -> str:
    texts = [m for error in errors[:3] if isinstance(m := error.get("message"), str)]
    return "; ".join(text[:200] for text in texts) or "no message"


def client_for_shop(
    http: httpx.AsyncClient, db: Database, vault: Vault, shop: Shop, **options: Any
) -> ShopifyClient:
    """The client for a stored Shopify shop: its fixed token, or the client credentials grant
    with the current token (if any) kept sealed in the shop's credentials."""
    creds = vault.open(shop.credentials)
    api_url = shop.api_url or f"https://{shop.domain}"
    tokens: TokenSource
    if creds.get("client_id") and creds.get("client_secret"):
        tokens = ClientCredentials(
            http,
            api_url=api_url,
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            store=ShopTokenStore(db, vault, shop.id),
            current=stored_token(creds),
        )
    elif creds.get("access_token"):
        tokens = FixedToken(creds["access_token"])
    else:
        raise StoreError("the shop has neither an access token nor a client id and secret")
    exponents = ProgramSettings.from_json(shop.settings).currency_exponents
    return ShopifyClient(http, api_url=api_url, tokens=tokens, exponents=exponents, **options)
