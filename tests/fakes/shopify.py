"""A fake Shopify Admin API: a real HTTP server with state, for tests and the demo.

It answers the Admin GraphQL calls Vafa makes (``shopify_schema.graphql`` beside this file, run
by graphql-core, so an unknown field or a wrongly typed variable is refused as Shopify would)
and the token endpoint (client credentials; for an app that shops install, the
authorization-code grant behind its ``/admin/oauth/authorize`` grant screen and token exchange
of a session token, PLATFORMS.md S3), and holds to the documented contract:

- ``X-Shopify-Access-Token`` must be a token it issued or was given; an expired one gets 401;
  a token holds the scopes it was granted (:meth:`FakeShopify.set_scopes`; a given token, every
  one), and reading the catalog without ``read_products`` gets ``ACCESS_DENIED``;
- validation errors come back as ``userErrors`` with ``field``, ``message`` and ``code``
  (a code already taken: ``TAKEN``; a required input missing: ``BLANK``);
- the GraphQL cost throttle: a leaky bucket (``maximum`` points, refilled at ``restore_rate``
  points a second); every answer carries ``extensions.cost``; a query the bucket cannot pay for
  gets a ``THROTTLED`` error (HTTP 200, or ``throttle_status``);
- the catalog: ``nodes(ids:)`` (at most 250 well-formed GIDs; one not found is null) and
  ``product(id:)`` with each product's ``productType`` and ``collections``
  (:meth:`FakeShopify.add_product`);
- failures on demand: :meth:`FakeShopify.fail_next` (5xx, or 429 with ``Retry-After``) and
  :meth:`FakeShopify.delay_next` (a slow answer, for timeouts).

Every request is recorded (:attr:`FakeShopify.requests`) with its monotonic time, so a test can
show that no request came before the store allowed it.

Use it as the ``fake_shopify`` fixture, or ``with FakeShopify().running() as fake:`` anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jwt
import orjson
from graphql import (
    GraphQLError,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.graphql_cost import MAX_QUERY_COST, actual_cost, query_cost
from tests.fakes.server import ServedApp
from tests.fakes.shopify_orders import gid

SCHEMA = build_schema((Path(__file__).parent / "shopify_schema.graphql").read_text())
API_PATH = "/admin/api/{version}/graphql.json"
TOKEN_PATH = "/admin/oauth/access_token"
AUTHORIZE_PATH = "/admin/oauth/authorize"
SHOP_DOMAIN = "club.myshopify.com"  # the shop the grant screen is of
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
DEFAULT_TOKEN = "shpat_fake_token"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
# What the app's configuration asks for (shopify.app.toml): what Shopify grants a token of the
# client credentials grant or of token exchange. Listed as Shopify lists a grant: write_x only.
APP_SCOPES = "read_orders,write_customers,write_discounts,write_app_proxy,read_products"
_TAKEN = "Code must be unique. Please try a different code."
_UPDATED_SINCE = re.compile(r"updated_at:>'?([^'\s]+)'?")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    at: float  # time.monotonic() when the request arrived
    path: str
    operation: str | None  # the GraphQL operation name, or "access_token"
    status: int
    throttled: bool = False
    query: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    cost: dict[str, Any] | None = None  # the answer's extensions.cost


@dataclass
class Bucket:
    """The leaky bucket of GraphQL cost points (per app and store on Shopify)."""

    maximum: float = 1000.0
    restore_rate: float = 50.0
    available: float = 1000.0
    at: float = field(default_factory=time.monotonic)

    def level(self) -> float:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.at) * self.restore_rate)
        self.at = now
        return self.available

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.level(), 3),
            "restoreRate": self.restore_rate,
        }


class UserErrors(Exception):
    """A mutation refused: its payload carries these ``userErrors`` and nothing else."""

    def __init__(self, *errors: dict[str, Any]) -> None:
        super().__init__(errors[0]["message"] if errors else "refused")
        self.errors = list(errors)


def user_error(field: list[str], message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    return error


def _scope_set(scopes: str) -> frozenset[str]:
    """Granted scopes with what they imply (Shopify grants read_x with write_x)."""
    named = {s.strip() for s in scopes.split(",") if s.strip()}
    return frozenset(named | {"read_" + s.removeprefix("write_") for s in named
                              if s.startswith("write_")})  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Access:
    scopes: frozenset[str] | None  # None: every scope


def _allowed(info: Any, scope: str, field_name: str) -> Any:
    """``info`` if the request's token holds ``scope``; else Shopify's ACCESS_DENIED for the
    field (its message, ``requiredAccess`` and documentation link)."""
    access = info.context
    if isinstance(access, _Access) and access.scopes is not None and scope not in access.scopes:
        raise GraphQLError(
            f"Access denied for {field_name} field. Required access: `{scope}` access scope.",
            extensions={
                "code": "ACCESS_DENIED",
                "documentation": "https://shopify.dev/api/usage/access-scopes",
                "requiredAccess": f"`{scope}` access scope.",
            },
        )
    return info


class FakeShopify:
    def __init__(
        self,
        *,
        access_tokens: tuple[str, ...] = (DEFAULT_TOKEN,),
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        token_lifetime: float = 86_399.0,
        maximum: float = 1000.0,
        restore_rate: float = 100.0,  # Shopify's standard plan
        throttle_status: int = 200,
        shop_domain: str = SHOP_DOMAIN,
    ) -> None:
        self._lock = threading.RLock()
        self.shop_domain = shop_domain
        # Authorization codes the grant screen gave out: code → the scopes granted (used once).
        self.codes: dict[str, str] = {}
        # What the grant screen grants: the scopes asked for, unless a test says otherwise.
        self.granted_scope: str | None = None
        # Offline tokens given to an installed app (by code or by token exchange).
        self.offline_tokens: list[str] = []
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.throttle_status = throttle_status
        # token → when it expires (time.time()), None for one that never does
        self.tokens: dict[str, float | None] = dict.fromkeys(access_tokens)
        # token → the scopes it was granted; a token not here (a given one) holds every scope
        self.token_scopes: dict[str, frozenset[str]] = {}
        self.issued: list[str] = []
        self.bucket = Bucket(maximum, restore_rate, maximum)
        self.discounts: dict[str, dict[str, Any]] = {}  # by code, upper-cased
        self.customers: dict[str, dict[str, Any]] = {}  # by GID
        self.metafields: dict[tuple[str, str, str], dict[str, Any]] = {}  # (owner, ns, key)
        self.products: set[str] = set()  # GIDs
        # The catalog nodes(ids:) and product(id:) read: product GID → its handle, title,
        # productType and collections (GIDs, in order); collection GID → id, handle, title.
        self.catalog: dict[str, dict[str, Any]] = {}
        self.collections: dict[str, dict[str, Any]] = {}
        self.webhooks: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self._failures: deque[tuple[int, float | None]] = deque()
        self._delays: deque[float] = deque()
        self._ids = itertools.count(1_000_001)
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route(API_PATH, self._graphql_endpoint, methods=["POST"]),
                Route(TOKEN_PATH, self._token_endpoint, methods=["POST"]),
                Route(AUTHORIZE_PATH, self._authorize_endpoint, methods=["GET"]),
            ]
        )

    # -- running ----------------------------------------------------------------------------

    @contextmanager
    def running(self, on: ServedApp | None = None) -> Iterator[FakeShopify]:
        """Answer on ``on`` (a server already running, e.g. the test session's), or on a server
        of its own for the block."""
        if on is not None:
            on.app = self.app
            self.base_url = on.url
            try:
                yield self
            finally:
                on.app = None
            return
        with ServedApp(self.app) as served:
            self.base_url = served.url
            yield self

    # -- what a test sets up or injects --------------------------------------------------

    def add_customer(
        self,
        customer_id: str | int,
        *,
        email: str | None = "member@example.com",
        first_name: str | None = "Sara",
        last_name: str | None = "Ahmadi",
        marketing_state: str = "NOT_SUBSCRIBED",
    ) -> str:
        customer_gid = gid("Customer", customer_id)
        with self._lock:
            self.customers[customer_gid] = {
                "id": customer_gid,
                "firstName": first_name,
                "lastName": last_name,
                "updatedAt": now_iso(),
                "email": email,
                "marketingState": marketing_state,
            }
        return customer_gid

    def add_product(
        self,
        product_id: str | int,
        *,
        product_type: str = "",
        collections: tuple[str, ...] = (),
    ) -> str:
        """A product, in the collections with these handles (made if new); adding it again
        replaces its type and collections (a merchant editing the catalog)."""
        product_gid = gid("Product", product_id)
        with self._lock:
            self.products.add(product_gid)
            self.catalog[product_gid] = {
                "id": product_gid,
                "handle": f"product-{product_id}",
                "title": f"Product {product_id}",
                "productType": product_type,
                "collections": [self.add_collection(handle) for handle in collections],
            }
        return product_gid

    def add_collection(self, handle: str, collection_id: int | None = None) -> str:
        """The collection with this handle (made with ``collection_id`` or a new id)."""
        with self._lock:
            for collection in self.collections.values():
                if collection["handle"] == handle:
                    return str(collection["id"])
            collection_gid = gid("Collection", collection_id or next(self._ids))
            self.collections[collection_gid] = {
                "id": collection_gid,
                "handle": handle,
                "title": handle.replace("-", " ").title(),
            }
            return collection_gid

    def add_order(self, order: dict[str, Any]) -> None:
        """An order in Admin GraphQL's shape (``shopify_orders.order_from_webhook`` makes one)."""
        with self._lock:
            self.orders.append(order)

    def fail_next(self, n: int = 1, *, status: int = 503, retry_after: float | None = None) -> None:
        """The next ``n`` requests (GraphQL or token) get ``status``; a 429 carries
        ``Retry-After: retry_after`` (seconds, as Shopify writes it: ``2.0``)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * n)

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """The next ``n`` requests are answered only after ``seconds``."""
        with self._lock:
            self._delays.extend([seconds] * n)

    def set_bucket(
        self,
        *,
        available: float | None = None,
        maximum: float | None = None,
        restore_rate: float | None = None,
    ) -> None:
        with self._lock:
            self.bucket.level()
            if maximum is not None:
                self.bucket.maximum = maximum
            if restore_rate is not None:
                self.bucket.restore_rate = restore_rate
            if available is not None:
                self.bucket.available = available

    def expire_tokens(self) -> None:
        """Every token it issued expires now (a given token, never)."""
        with self._lock:
            for token in self.issued:
                self.tokens[token] = time.time() - 1

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def set_scopes(self, token: str, scopes: str | None) -> None:
        """What ``token`` may do from now on: comma-separated scopes as Shopify grants them
        (the store owner approved fewer, or approved more later), or None for every scope."""
        with self._lock:
            if scopes is None:
                self.token_scopes.pop(token, None)
            else:
                self.token_scopes[token] = _scope_set(scopes)

    # -- what a test reads back ----------------------------------------------------------

    def discount(self, code: str) -> dict[str, Any] | None:
        with self._lock:
            return self.discounts.get(code.upper())

    def metafield(self, customer_id: str | int, key: str, namespace: str = "vafa") -> Any:
        with self._lock:
            return self.metafields.get((gid("Customer", customer_id), namespace, key))

    def graphql_requests(self, operation: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path != TOKEN_PATH and (operation is None or r.operation == operation)
            ]

    def token_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == TOKEN_PATH]

    # -- HTTP ----------------------------------------------------------------------------

    async def _injected(self) -> Response | None:
        with self._lock:
            delay = self._delays.popleft() if self._delays else 0.0
            failure = self._failures.popleft() if self._failures else None
        if delay:
            await asyncio.sleep(delay)
        if failure is None:
            return None
        status, retry_after = failure
        if status == 429:
            headers = {} if retry_after is None else {"Retry-After": f"{retry_after:.1f}"}
            return JSONResponse(
                {"errors": "Exceeded 2 calls per second for api client. Reduce request rates."},
                status_code=429,
                headers=headers,
            )
        return JSONResponse({"errors": "Internal Server Error"}, status_code=status)

    def _record(self, request: Request, at: float, status: int, **details: Any) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(at, request.url.path, status=status, **details))

    async def _token_endpoint(self, request: Request) -> Response:
        at = time.monotonic()
        injected = await self._injected()
        if injected is not None:
            self._record(request, at, injected.status_code, operation="access_token")
            return injected
        if request.headers.get("content-type", "").startswith("application/json"):
            form: dict[str, Any] = orjson.loads(await request.body())
        else:
            form = dict(parse_qsl((await request.body()).decode()))
        grant = form.get("grant_type")
        if grant not in ("client_credentials", TOKEN_EXCHANGE, None):
            self._record(request, at, 400, operation="access_token")
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "grant_type"}, 400
            )
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            self._record(request, at, 400, operation="access_token")
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                400,
            )
        if grant != "client_credentials":
            return self._offline_token(request, at, form)
        token = f"shpat_cc_{secrets.token_hex(12)}"
        with self._lock:
            self.tokens[token] = time.time() + self.token_lifetime
            self.token_scopes[token] = _scope_set(APP_SCOPES)
            self.issued.append(token)
        self._record(request, at, 200, operation="access_token")
        return JSONResponse(
            {
                "access_token": token,
                "scope": APP_SCOPES,
                "expires_in": self.token_lifetime,
            }
        )

    # -- an app that shops install ----------------------------------------------------

    def sign_query(self, params: dict[str, str]) -> str:
        """The ``hmac`` Shopify puts on an admin query: hex HMAC-SHA256 of the sorted,
        form-encoded ``key=value`` pairs joined with ``&`` (written here apart from Vafa's own
        code, so that each checks the other)."""
        message = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}"
            for k, v in sorted(params.items())
            if k not in ("hmac", "signature")
        )
        return hmac.new(self.client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    def signed_query(self, **params: str) -> dict[str, str]:
        """``params`` with the shop, a current timestamp and their ``hmac``, as Shopify sends
        an install request to the App URL."""
        query = {"shop": self.shop_domain, "timestamp": str(int(time.time())), **params}
        return {**query, "hmac": self.sign_query(query)}

    def session_token(self, *, lifetime: float = 60.0, **claims: Any) -> str:
        """A session token as App Bridge gets it for the shop's staff (HS256, the secret)."""
        now = int(time.time())
        shop_url = f"https://{self.shop_domain}"
        payload = {
            "iss": f"{shop_url}/admin",
            "dest": shop_url,
            "aud": self.client_id,
            "sub": "42",
            "exp": now + int(lifetime),
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(8),
            "sid": secrets.token_hex(8),
            **claims,
        }
        return jwt.encode(payload, self.client_secret, algorithm="HS256")

    async def _authorize_endpoint(self, request: Request) -> Response:
        """The grant screen, approved at once: back to ``redirect_uri`` with a code and a signed
        query, as Shopify redirects the store owner."""
        at = time.monotonic()
        params = dict(request.query_params)
        if params.get("client_id") != self.client_id or not params.get("redirect_uri"):
            self._record(request, at, 400, operation="authorize")
            return JSONResponse({"errors": "Oauth error invalid_request"}, 400)
        code = secrets.token_hex(16)
        with self._lock:
            self.codes[code] = self.granted_scope or params.get("scope", "")
        back = self.signed_query(code=code, state=params.get("state", ""), host="YWRtaW4")
        self._record(request, at, 302, operation="authorize")
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return Response(
            status_code=302,
            headers={"Location": params["redirect_uri"] + separator + urlencode(back)},
        )

    def _offline_token(self, request: Request, at: float, form: dict[str, Any]) -> Response:
        """The authorization-code grant (a code used once) or token exchange (a valid
        session token for this app): a new offline token that does not expire."""
        scope: str | None
        if form.get("grant_type") == TOKEN_EXCHANGE:
            scope = self._exchangeable(form)
        else:
            with self._lock:
                scope = self.codes.pop(str(form.get("code")), None)
        if scope is None:
            self._record(request, at, 400, operation="access_token")
            return JSONResponse(
                {"error": "invalid_request", "error_description": "invalid code or subject token"},
                400,
            )
        token = f"shpat_offline_{secrets.token_hex(12)}"
        with self._lock:
            self.tokens[token] = None
            self.token_scopes[token] = _scope_set(scope)
            self.offline_tokens.append(token)
        self._record(request, at, 200, operation="access_token")
        return JSONResponse({"access_token": token, "scope": scope})

    def _exchangeable(self, form: dict[str, Any]) -> str | None:
        """The scopes of the app's configuration if ``subject_token`` is a session token of
        this app for this shop that has not expired, else None."""
        if form.get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token":
            return None
        try:
            claims = jwt.decode(
                str(form.get("subject_token")),
                self.client_secret,
                algorithms=["HS256"],
                audience=self.client_id,
                leeway=10,
            )
        except jwt.PyJWTError:
            return None
        if claims.get("dest") != f"https://{self.shop_domain}":
            return None
        return APP_SCOPES

    def _token_ok(self, token: str | None) -> bool:
        with self._lock:
            if token is None or token not in self.tokens:
                return False
            expires = self.tokens[token]
            return expires is None or time.time() < expires

    async def _graphql_endpoint(self, request: Request) -> Response:
        at = time.monotonic()
        token = request.headers.get("x-shopify-access-token")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = {}
        query = body.get("query") if isinstance(body, dict) else None
        variables = (body.get("variables") if isinstance(body, dict) else None) or {}
        operation = body.get("operationName") if isinstance(body, dict) else None
        details = {"operation": operation, "query": query or "", "variables": variables}
        details["token"] = token
        injected = await self._injected()
        if injected is not None:
            self._record(request, at, injected.status_code, **details)
            return injected
        if not self._token_ok(token):
            self._record(request, at, 401, **details)
            return JSONResponse(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong "
                 "password)"},
                status_code=401,
            )  # fmt: skip
        if not isinstance(query, str) or not isinstance(variables, dict):
            self._record(request, at, 400, **details)
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        with self._lock:
            scopes = self.token_scopes.get(token or "")
        status, answer, throttled = self._run(query, variables, operation, scopes)
        cost = answer.get("extensions", {}).get("cost")
        self._record(request, at, status, throttled=throttled, cost=cost, **details)
        return Response(orjson.dumps(answer), status_code=status, media_type="application/json")

    # -- GraphQL -------------------------------------------------------------------------

    def _run(
        self,
        query: str,
        variables: dict[str, Any],
        operation: str | None,
        scopes: frozenset[str] | None = None,
    ) -> tuple[int, dict[str, Any], bool]:
        try:
            document = parse(query)
        except GraphQLError as exc:
            return 200, {"errors": [exc.formatted]}, False
        problems = validate(SCHEMA, document)
        if problems:
            return 200, {"errors": [p.formatted for p in problems]}, False
        op = get_operation_ast(document, operation)
        if op is None:
            return 200, {"errors": [{"message": "No operation named " + str(operation)}]}, False
        cost = query_cost(document, op, variables)
        with self._lock:
            if cost > MAX_QUERY_COST:
                return 200, _max_cost_exceeded(cost), False
            available = self.bucket.level()
            if available < cost:
                answer = {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": self._cost(cost, None)},
                }
                return self.throttle_status, answer, True
            self.bucket.available -= cost
            result = execute(
                SCHEMA,
                document,
                root_value=self._root(),
                context_value=_Access(scopes),
                variable_values=variables,
                operation_name=operation,
            )
            answer = result.formatted
            # As Shopify: the bucket is charged what the query asked for, and what it did not
            # use (fewer nodes than ``first``) is given back.
            actual = min(cost, actual_cost(document, op, result.data))
            self.bucket.available += cost - actual
            answer["extensions"] = {"cost": self._cost(cost, actual)}
        return 200, answer, False

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self.bucket.status(),
        }

    def _root(self) -> dict[str, Callable[..., Any]]:
        return {
            "discountCodeBasicCreate": self._basic_create,
            "discountCodeFreeShippingCreate": self._free_shipping_create,
            "codeDiscountNodeByCode": lambda _info, code: self._discount_view(
                self.discounts.get(code.upper())
            ),
            "codeDiscountNode": lambda _info, id: self._discount_view(
                next((d for d in self.discounts.values() if d["id"] == id), None)
            ),
            "metafieldsSet": self._metafields_set,
            "metafieldsDelete": self._metafields_delete,
            "customer": lambda _info, id: self._customer_view(self.customers.get(id)),
            "webhookSubscriptions": self._webhook_subscriptions,
            "webhookSubscriptionCreate": self._webhook_create,
            "orders": self._orders,
            "order": lambda _info, id: self._order_view(
                next((o for o in self.orders if o["id"] == id), None)
            ),
            "refund": lambda _info, id: self._refund_by_id(id),
            "nodes": lambda info, ids: self._nodes(_allowed(info, "read_products", "nodes"), ids),
            "product": self._product,
        }

    # -- the catalog ---------------------------------------------------------------------

    def _nodes(self, _info: Any, ids: list[str]) -> list[dict[str, Any] | None]:
        """As Shopify: at most 250 ids, each a well-formed GID; one not found is null."""
        if len(ids) > 250:
            raise GraphQLError(
                f"The input array size of {len(ids)} is greater than the maximum allowed of 250."
            )
        for node_id in ids:
            if not re.fullmatch(r"gid://shopify/[A-Za-z]+/[0-9]+", node_id):
                raise GraphQLError(f"Invalid global id '{node_id}'")
        return [self._product_view(self.catalog.get(node_id)) for node_id in ids]

    def _product(self, info: Any, id: str) -> dict[str, Any] | None:
        _allowed(info, "read_products", "product")
        return self._product_view(self.catalog.get(id))

    def _product_view(self, product: dict[str, Any] | None) -> dict[str, Any] | None:
        if product is None:
            return None
        view = {k: v for k, v in product.items() if k != "collections"}
        view["__typename"] = "Product"
        view["collections"] = _paged([self.collections[c] for c in product["collections"]])
        return view

    # -- discounts -----------------------------------------------------------------------

    def _basic_create(self, _info: Any, basicCodeDiscount: dict[str, Any]) -> dict[str, Any]:
        return self._create_discount("DiscountCodeBasic", "basicCodeDiscount", basicCodeDiscount)

    def _free_shipping_create(
        self,
        _info: Any,
        freeShippingCodeDiscount: dict[str, Any],
    ) -> dict[str, Any]:
        return self._create_discount(
            "DiscountCodeFreeShipping", "freeShippingCodeDiscount", freeShippingCodeDiscount
        )

    def _create_discount(self, kind: str, arg: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            discount = self._checked_discount(kind, arg, data)
        except UserErrors as refused:
            return {"codeDiscountNode": None, "userErrors": refused.errors}
        self.discounts[discount["code"].upper()] = discount
        return {"codeDiscountNode": self._discount_view(discount), "userErrors": []}

    def _checked_discount(self, kind: str, arg: str, data: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        for name in ("title", "code", "startsAt"):
            if not (data.get(name) or "").strip():
                label = {"startsAt": "Starts at"}.get(name, name.capitalize())
                errors.append(user_error([arg, name], f"{label} can't be blank", "BLANK"))
        code = (data.get("code") or "").strip()
        if code and code.upper() in self.discounts:
            errors.append(user_error([arg, "code"], _TAKEN, "TAKEN"))
        if code and len(code) > 255:
            errors.append(user_error([arg, "code"], "Code is too long", "TOO_LONG"))
        customers = self._checked_customers(arg, data, errors)
        starts, ends = _when(data.get("startsAt")), _when(data.get("endsAt"))
        if data.get("endsAt") is not None and ends is None:
            errors.append(user_error([arg, "endsAt"], "Ends at is invalid", "INVALID"))
        if starts and ends and ends <= starts:
            errors.append(
                user_error([arg, "endsAt"], "Ends at needs to be after starts_at", "INVALID")
            )
        usage = data.get("usageLimit")
        if usage is not None and usage < 1:
            errors.append(
                user_error(
                    [arg, "usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN"
                )
            )
        gets = None
        if kind == "DiscountCodeBasic":
            gets = self._checked_gets(arg, data.get("customerGets"), errors)
        minimum = _checked_minimum(arg, data.get("minimumRequirement"), errors)
        if errors:
            raise UserErrors(*errors)
        combines = data.get("combinesWith") or {}
        return {
            "id": gid("DiscountCodeNode", next(self._ids)),
            "__typename": kind,
            "title": data["title"],
            "code": code,
            "startsAt": data["startsAt"],
            "endsAt": data.get("endsAt"),
            "usageLimit": usage,
            "asyncUsageCount": 0,
            "appliesOncePerCustomer": bool(data.get("appliesOncePerCustomer")),
            "customers": customers,  # None: all buyers
            "customerGets": gets,
            "minimumRequirement": minimum,
            "combinesWith": {
                key: bool(combines.get(key))
                for key in ("orderDiscounts", "productDiscounts", "shippingDiscounts")
            },
            "destination": data.get("destination"),
        }

    def _checked_customers(
        self, arg: str, data: dict[str, Any], errors: list[dict[str, Any]]
    ) -> list[str] | None:
        context, selection = data.get("context"), data.get("customerSelection")
        if context is not None and selection is not None:
            errors.append(
                user_error(
                    [arg, "context"],
                    "Only one of context or customerSelection can be provided",
                    "CONFLICT",
                )
            )
            return None
        chosen, name = (
            (context, "context") if context is not None else (selection, "customerSelection")
        )
        if chosen is None:
            errors.append(user_error([arg, "context"], "Context can't be blank", "BLANK"))
            return None
        if chosen.get("all"):
            return None
        added = list((chosen.get("customers") or {}).get("add") or [])
        if not added:
            errors.append(
                user_error([arg, name], "Context must name all buyers or some customers", "BLANK")
            )
        for customer in added:
            if customer not in self.customers:
                errors.append(
                    user_error(
                        [arg, name, "customers", "add"],
                        f"Customer {customer} does not exist",
                        "INVALID",
                    )
                )
        return added

    def _checked_gets(
        self, arg: str, gets: dict[str, Any] | None, errors: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        where = [arg, "customerGets"]
        if not gets or not gets.get("value") or not gets.get("items"):
            errors.append(user_error(where, "Customer gets can't be blank", "BLANK"))
            return None
        value, items = gets["value"], gets["items"]
        if (value.get("percentage") is None) == (value.get("discountAmount") is None):
            errors.append(
                user_error([*where, "value"], "Value must be a percentage or an amount", "INVALID")
            )
        elif value.get("percentage") is not None and not 0 < value["percentage"] <= 1:
            errors.append(
                user_error(
                    [*where, "value", "percentage"],
                    "Value must be between 0.0 and 1.0",
                    "VALUE_OUTSIDE_RANGE",
                )
            )
        elif value.get("discountAmount") is not None:
            amount = _decimal((value["discountAmount"] or {}).get("amount"))
            if amount is None or amount <= 0:
                errors.append(
                    user_error(
                        [*where, "value", "discountAmount", "amount"],
                        "Value must be greater than 0",
                        "GREATER_THAN",
                    )
                )
        products = list((items.get("products") or {}).get("productsToAdd") or [])
        if not items.get("all") and not products:
            errors.append(user_error([*where, "items"], "Items can't be blank", "BLANK"))
        for product in products:
            if product not in self.products:
                errors.append(
                    user_error(
                        [*where, "items", "products", "productsToAdd"],
                        f"Product {product} does not exist",
                        "INVALID",
                    )
                )
        return {"value": value, "items": {"all": bool(items.get("all")), "products": products}}

    def _discount_view(self, discount: dict[str, Any] | None) -> dict[str, Any] | None:
        if discount is None:
            return None
        currency = "USD"
        view: dict[str, Any] = {
            key: discount[key]
            for key in (
                "__typename",
                "title",
                "startsAt",
                "endsAt",
                "usageLimit",
                "asyncUsageCount",
                "appliesOncePerCustomer",
                "combinesWith",
            )
        }
        ends = _when(discount["endsAt"])
        view["status"] = "EXPIRED" if ends and ends <= datetime.now(UTC) else "ACTIVE"
        view["codes"] = _paged(
            [{"code": discount["code"], "asyncUsageCount": discount["asyncUsageCount"]}]
        )
        customers = discount["customers"]
        view["context"] = (
            {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
            if customers is None
            else {
                "__typename": "DiscountCustomers",
                "customers": [self._customer_view(self.customers.get(c)) for c in customers],
            }
        )
        minimum = discount["minimumRequirement"]
        view["minimumRequirement"] = (
            None
            if minimum is None
            else {
                "__typename": "DiscountMinimumSubtotal",
                "greaterThanOrEqualToSubtotal": {"amount": minimum, "currencyCode": currency},
            }
        )
        gets = discount["customerGets"]
        if gets is not None:
            value = gets["value"]
            if value.get("percentage") is not None:
                value_view = {"__typename": "DiscountPercentage", "percentage": value["percentage"]}
            else:
                amount = value["discountAmount"]
                value_view = {
                    "__typename": "DiscountAmount",
                    "amount": {"amount": amount["amount"], "currencyCode": currency},
                    "appliesOnEachItem": bool(amount.get("appliesOnEachItem")),
                }
            items = gets["items"]
            items_view = (
                {"__typename": "AllDiscountItems", "allItems": True}
                if items["all"]
                else {
                    "__typename": "DiscountProducts",
                    "products": _paged([{"id": p} for p in items["products"]]),
                }
            )
            view["customerGets"] = {"value": value_view, "items": items_view}
        return {"id": discount["id"], "codeDiscount": view}

    # -- customers and metafields --------------------------------------------------------

    def _customer_view(self, customer: dict[str, Any] | None) -> dict[str, Any] | None:
        if customer is None:
            return None
        email = customer["email"]
        owner = customer["id"]
        return {
            "id": owner,
            "firstName": customer["firstName"],
            "lastName": customer["lastName"],
            "updatedAt": customer["updatedAt"],
            "defaultEmailAddress": None
            if email is None
            else {"emailAddress": email, "marketingState": customer["marketingState"]},
            "metafield": lambda _info, key, namespace=None: self.metafields.get(
                (owner, namespace or "$app", key)
            ),
        }

    def _metafields_set(self, _info: Any, metafields: list[dict[str, Any]]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        if len(metafields) > 25:
            errors.append(
                user_error(
                    ["metafields"],
                    "Exceeded the maximum metafields input limit of 25.",
                    "LESS_THAN_OR_EQUAL_TO",
                )
            )
        for i, item in enumerate(metafields):
            errors += self._metafield_errors(i, item)
        if errors:  # all or nothing, as Shopify's metafieldsSet
            for error in errors:
                parts = error["field"]
                error["elementIndex"] = int(parts[1]) if len(parts) > 1 else None
            return {"metafields": None, "userErrors": errors}
        stored = []
        for item in metafields:
            key = (item["ownerId"], item.get("namespace") or "$app", item["key"])
            previous = self.metafields.get(key)
            metafield = {
                "id": previous["id"] if previous else gid("Metafield", next(self._ids)),
                "namespace": key[1],
                "key": key[2],
                "value": item["value"],
                "type": item.get("type") or previous["type"],  # type: ignore[index]
                "updatedAt": now_iso(),
            }
            self.metafields[key] = metafield
            stored.append(metafield)
        return {"metafields": stored, "userErrors": []}

    def _metafield_errors(self, i: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        where = ["metafields", str(i)]
        errors: list[dict[str, Any]] = []
        if item["ownerId"] not in self.customers:
            errors.append(user_error([*where, "ownerId"], "Owner does not exist.", "INVALID"))
        namespace = item.get("namespace") or "$app"
        if not re.fullmatch(r"\$app|[A-Za-z0-9_-]{3,255}", namespace):
            errors.append(user_error([*where, "namespace"], "Namespace is invalid", "INVALID"))
        if not 2 <= len(item["key"]) <= 64:
            errors.append(
                user_error([*where, "key"], "Key must be 2-64 characters long", "TOO_SHORT")
            )
        previous = self.metafields.get((item["ownerId"], namespace, item["key"]))
        kind = item.get("type") or (previous or {}).get("type")
        if kind is None:
            errors.append(user_error([*where, "type"], "Type can't be blank", "BLANK"))
        elif kind == "number_integer" and not re.fullmatch(r"-?[0-9]{1,19}", item["value"]):
            errors.append(
                user_error([*where, "value"], "Value must be an integer.", "INVALID_VALUE")
            )
        elif kind not in ("number_integer", "single_line_text_field"):
            errors.append(user_error([*where, "type"], f"Type {kind} is not known", "INVALID_TYPE"))
        return errors

    def _metafields_delete(self, _info: Any, metafields: list[dict[str, Any]]) -> dict[str, Any]:
        deleted = []
        for item in metafields:
            key = (item["ownerId"], item["namespace"], item["key"])
            deleted.append(dict(item) if self.metafields.pop(key, None) is not None else None)
        return {"deletedMetafields": deleted, "userErrors": []}

    # -- webhooks ------------------------------------------------------------------------

    def _webhook_subscriptions(
        self,
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        topics: list[str] | None = None,
        uri: str | None = None,
    ) -> dict[str, Any]:
        hooks = [
            hook
            for hook in self.webhooks
            if (topics is None or hook["topic"] in topics) and (uri is None or hook["uri"] == uri)
        ]
        return _connection(hooks, first, after)

    def _webhook_create(
        self,
        _info: Any,
        topic: str,
        webhookSubscription: dict[str, Any],
    ) -> dict[str, Any]:
        uri = (webhookSubscription.get("uri") or "").strip()
        error = None
        if not uri:
            error = user_error(["webhookSubscription", "callbackUrl"], "Address can't be blank")
        elif not re.match(r"https?://[^/\s]+", uri):
            error = user_error(["webhookSubscription", "callbackUrl"], "Address is invalid")
        elif any(h["topic"] == topic and h["uri"] == uri for h in self.webhooks):
            error = user_error(
                ["webhookSubscription", "callbackUrl"],
                "Address for this topic has already been taken",
            )
        if error is not None:
            return {"webhookSubscription": None, "userErrors": [error]}
        hook = {
            "id": gid("WebhookSubscription", next(self._ids)),
            "topic": topic,
            "uri": uri,
            "format": webhookSubscription.get("format") or "JSON",
            "createdAt": now_iso(),
        }
        self.webhooks.append(hook)
        return {"webhookSubscription": hook, "userErrors": []}

    # -- orders --------------------------------------------------------------------------

    def _orders(
        self,
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool | None = None,
    ) -> dict[str, Any]:
        orders = list(self.orders)
        match = _UPDATED_SINCE.search(query or "")
        if match:
            since = _when(match.group(1))
            orders = [o for o in orders if since is None or _when(o["updatedAt"]) > since]  # type: ignore[operator]
        if sortKey == "UPDATED_AT":
            orders.sort(key=lambda o: _when(o["updatedAt"]))  # type: ignore[arg-type,return-value]
        if reverse:
            orders.reverse()
        page = _connection(orders, first, after)
        page["nodes"] = [self._order_view(o) for o in page["nodes"]]
        return page

    def _order_view(self, order: dict[str, Any] | None) -> dict[str, Any] | None:
        if order is None:
            return None
        view = dict(order)
        view["lineItems"] = _paged(order["lineItems"])
        refunds = [self._refund_view(r) for r in order["refunds"]]
        view["refunds"] = lambda _info, first=None: refunds[:first] if first else refunds
        customer = order.get("customer")
        view["customer"] = (
            None
            if customer is None
            else self._customer_view(self.customers.get(customer["id"])) or customer
        )
        return view

    def _refund_view(self, refund: dict[str, Any]) -> dict[str, Any]:
        view = dict(refund)
        view["refundLineItems"] = _paged(refund["refundLineItems"])
        view["refundShippingLines"] = _paged(refund.get("refundShippingLines", []))
        return view

    def _refund_by_id(self, refund_id: str) -> dict[str, Any] | None:
        for order in self.orders:
            for refund in order["refunds"]:
                if refund["id"] == refund_id:
                    return self._refund_view(refund)
        return None


# -- helpers ---------------------------------------------------------------------------------


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode()


def _index(cursor: str | None) -> int:
    if cursor is None:
        return -1
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("i:"))
    except ValueError as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from exc


def _connection(items: list[Any], first: int | None, after: str | None) -> dict[str, Any]:
    if first is not None and not 0 < first <= 250:
        raise GraphQLError("The first argument must be between 1 and 250")
    start = _index(after) + 1
    end = len(items) if first is None else min(len(items), start + first)
    page = items[start:end]
    return {
        "nodes": page,
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start) if page else None,
            "endCursor": _cursor(end - 1) if page else None,
        },
    }


def _paged(items: list[Any]) -> Callable[..., dict[str, Any]]:
    """A connection field's resolver over ``items`` (graphql-core calls it with the args)."""
    return lambda _info, first=None, after=None: _connection(items, first, after)


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _checked_minimum(
    arg: str, minimum: dict[str, Any] | None, errors: list[dict[str, Any]]
) -> str | None:
    if not minimum or not minimum.get("subtotal"):
        return None
    amount = _decimal(minimum["subtotal"].get("greaterThanOrEqualToSubtotal"))
    if amount is None or amount <= 0:
        errors.append(
            user_error(
                [arg, "minimumRequirement", "subtotal", "greaterThanOrEqualToSubtotal"],
                "Minimum subtotal must be greater than 0",
                "GREATER_THAN",
            )
        )
        return None
    return str(amount)


def _max_cost_exceeded(cost: int) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": f"Query cost is {cost}, which exceeds the single query max cost "
                f"limit ({MAX_QUERY_COST}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost},
            }
        ]
    }
