"""A fake WooCommerce REST API v3 (``/wp-json/wc/v3``) over real HTTP, with state in memory.

It enforces what the real one does for the calls Vafa makes (PLATFORMS.md W2), with the error
bodies WordPress sends (``{"code", "message", "data": {"status"}}``):

- Authentication as ``WC_REST_Authentication``. The fake speaks plain HTTP, so by default it is
  a store reached over HTTP: only OAuth 1.0a one-legged query signatures authenticate
  (HMAC-SHA1/SHA256, key ``consumer_secret&``, 15-minute timestamp window, each nonce once),
  and a Basic header is ignored, as WordPress ignores it without TLS. With ``https_mode=True``
  it is a store behind a TLS-terminating proxy: a request carrying ``X-Forwarded-Proto: https``
  counts as HTTPS (WordPress's ``is_ssl()`` behind such a proxy), and there Basic works too.
  :class:`tests.fakes.server.TlsTerminator` is that proxy for an httpx client. The signature is
  checked as WooCommerce's PHP computes it, written out here independently of oauthlib.
- Coupons: ``code`` required and unique (case-insensitively: WooCommerce lower-cases codes),
  ``discount_type`` one of three, amounts decimal strings, e-mail restrictions valid.
- Customers with ``meta_data`` (an entry given by key replaces that key's value), webhooks with
  a status (:meth:`FakeWooCommerce.disable_webhook` does what 5 failed deliveries do), orders
  filtered by ``modified_after`` and paginated with ``X-WP-Total`` / ``X-WP-TotalPages``.
- Products (``GET /products?include=…``, ``GET /products/{id}``) with their ``categories``
  (``{id, name, slug}``), an ``include`` that is not a list of integers refused as WordPress
  refuses it.
- Settings (``WC_REST_Setting_Options_Controller``): ``GET /settings/{group}``,
  ``GET``/``PUT /settings/{group}/{id}`` for the groups a plugin registered
  (:meth:`FakeWooCommerce.register_settings`; by default the Vafa club plugin's group, as
  integrations/woocommerce/vafa-club registers it), readable and writable by a store manager's
  key only; an unknown group or option is WordPress's 404.
- Failures on demand (:meth:`fail_next`, :meth:`throttle_next`, :meth:`delay_next`), and a
  record of every request (:attr:`requests`).

Usage: ``with FakeWooCommerce() as store: ...store.url...`` or the ``woo_store`` fixture
(tests/fakes/plugin.py).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import ServedApp

API = "/wp-json/wc/v3"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "woocommerce"
CONSUMER_KEY = "ck_3f1e2d4c5b6a79880f1e2d4c5b6a79880f1e2d4c"
CONSUMER_SECRET = "cs_9a8b7c6d5e4f30211a2b3c4d5e6f70819a8b7c6d"
TIMESTAMP_WINDOW = 15 * 60  # seconds either side, as WooCommerce allows
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
WEBHOOK_STATUSES = ("active", "paused", "disabled")
_RESOURCES = ("coupon", "customer", "order", "product")
_EVENTS = ("created", "updated", "deleted", "restored")
# The Vafa club plugin's settings group (Vafa_Settings::rest_settings in the plugin).
VAFA_SETTINGS_GROUP = "vafa"
VAFA_SETTINGS = {"vafa_url": "text", "shop_id": "text", "storefront_secret": "password"}
_OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")

Json = dict[str, Any]
# Handlers take the request for its query; a test-side call that needs none passes this.
_NO_REQUEST = Request(
    {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": []}
)


class WPError(Exception):
    """A WordPress REST error answer."""

    def __init__(
        self, status: int, code: str, message: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = dict(extra or {})

    def response(self) -> Response:
        data = {"status": self.status, **self.extra}
        return JSONResponse({"code": self.code, "message": self.message, "data": data}, self.status)


def _invalid_param(name: str, reason: str) -> WPError:
    return WPError(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", {"params": {name: reason}}
    )


class AuthorizeFailed(Exception):
    """What WooCommerce's authorize page shows instead of sending the browser back."""


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


@dataclass(frozen=True)
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"  # read | write | read_write
    # The key's user has manage_woocommerce (the settings API needs it; a key an owner makes
    # through the authorize page has it).
    manager: bool = True


@dataclass(frozen=True)
class RecordedRequest:
    at: datetime
    monotonic: float
    method: str
    path: str  # e.g. /wp-json/wc/v3/coupons
    query: dict[str, str]
    status: int
    auth: str  # basic | oauth | none
    body: Any = None


@dataclass(frozen=True)
class Delivery:
    webhook_id: int
    status: int | None  # None: the delivery URL could not be reached
    body: bytes


@dataclass
class _Injection:
    status: int
    retry_after: str | None = None
    body: bytes | None = None


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Response]
    action: str  # view | create | edit | delete, for WooCommerce's "Sorry, you cannot …"
    denied: str | None = None  # the controller's own "Sorry, …" where it differs


@dataclass
class _Auth:
    kind: str  # basic | oauth | none
    key: ApiKey | None = None


@dataclass
class _State:
    coupons: dict[int, Json] = field(default_factory=dict)
    customers: dict[int, Json] = field(default_factory=dict)
    webhooks: dict[int, Json] = field(default_factory=dict)
    orders: dict[int, Json] = field(default_factory=dict)
    products: dict[int, Json] = field(default_factory=dict)
    categories: dict[str, Json] = field(default_factory=dict)  # by slug
    settings: dict[str, dict[str, Json]] = field(default_factory=dict)  # group → id → option


def wc_time(value: datetime | None = None) -> str:
    """WooCommerce's date form: whole seconds, no offset (the fake's site runs on UTC)."""
    moment = (value or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


def _rfc3986(value: str) -> str:
    """PHP's ``rawurlencode`` (WooCommerce's ``wc_rest_urlencode_rfc3986``)."""
    return quote(value, safe="-_.~")


def woocommerce_signature(
    method: str, base_url: str, params: Mapping[str, str], consumer_secret: str
) -> str:
    """``WC_REST_Authentication::check_oauth_signature``: parameters sorted by key (strcmp),
    key and value encoded, each ``key=value`` encoded again and joined with ``%26``."""
    algorithm = params.get("oauth_signature_method", "")
    digest = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}[algorithm]
    pairs = [
        _rfc3986(f"{_rfc3986(key)}={_rfc3986(params[key])}")
        for key in sorted(params, key=lambda k: k.encode())
        if key != "oauth_signature"
    ]
    base = f"{method.upper()}&{_rfc3986(base_url)}&{'%26'.join(pairs)}"
    mac = hmac.new(f"{consumer_secret}&".encode(), base.encode(), digest)
    return base64.b64encode(mac.digest()).decode()


class FakeWooCommerce:
    def __init__(
        self,
        *,
        consumer_key: str = CONSUMER_KEY,
        consumer_secret: str = CONSUMER_SECRET,
        https_mode: bool = False,
        public_url: str | None = None,
        currency: str = "USD",
        decimals: int = 2,
        vafa_plugin: bool = True,
    ) -> None:
        self.https_mode = https_mode
        # What the store reports as its home URL (the one a signature must be made for);
        # its own address when None.
        self.public_url = public_url
        self.currency = currency
        self.decimals = decimals
        self.keys: dict[str, ApiKey] = {consumer_key: ApiKey(consumer_key, consumer_secret)}
        self.requests: list[RecordedRequest] = []
        self._state = _State()
        if vafa_plugin:
            self.register_settings(VAFA_SETTINGS_GROUP, VAFA_SETTINGS)
        self._lock = threading.RLock()
        self._ids = itertools.count(100)
        self._nonces: set[tuple[str, str]] = set()
        self._injections: deque[_Injection] = deque()
        self._delays: deque[float] = deque()
        self._routes = self._route_table()
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )
        self._served: ServedApp | None = None
        self._owns_server = False

    # --- running -----------------------------------------------------------------------------

    def start(self, on: ServedApp | None = None) -> FakeWooCommerce:
        """Serve on a server of its own, or mounted ``on`` a running one (left running)."""
        if on is None:
            self._served, self._owns_server = ServedApp(self.app).start(), True
        else:
            on.app = self.app
            self._served, self._owns_server = on, False
        return self

    def stop(self) -> None:
        if self._served is not None:
            if self._owns_server:
                self._served.stop()
            elif self._served.app is self.app:
                self._served.app = None
            self._served = None

    def __enter__(self) -> FakeWooCommerce:
        return self if self._served is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The store's own (plain HTTP) address, what a client is configured with."""
        if self._served is None:
            raise RuntimeError("the fake store is not running")
        return self._served.url

    @property
    def consumer_key(self) -> str:
        return next(iter(self.keys))

    @property
    def consumer_secret(self) -> str:
        return self.keys[self.consumer_key].consumer_secret

    # --- what a test arranges ----------------------------------------------------------------

    def add_key(
        self, consumer_key: str, consumer_secret: str, permissions: str, *, manager: bool = True
    ) -> None:
        self.keys[consumer_key] = ApiKey(consumer_key, consumer_secret, permissions, manager)

    def register_settings(self, group: str, options: Mapping[str, str]) -> None:
        """What a plugin's ``woocommerce_settings_groups`` and ``woocommerce_settings-{group}``
        filters declare: the group's options (id → type), each empty until set."""
        self._state.settings[group] = {
            option: {"id": option, "group_id": group, "label": option, "description": "",
                     "type": kind, "default": "", "tip": "", "placeholder": "", "value": ""}
            for option, kind in options.items()
        }  # fmt: skip

    def setting_values(self, group: str) -> dict[str, Any]:
        """The stored value of every option of a group (what the plugin then reads)."""
        with self._lock:
            return {k: v["value"] for k, v in self._state.settings.get(group, {}).items()}

    # --- the application authentication endpoint (WC_Auth, /wc-auth/v1/authorize) -----------

    async def approve(
        self, authorize_url: str, via: httpx.AsyncClient, *, permissions: str | None = None
    ) -> str:
        """The store owner approves the app on the authorize page: WC_Auth checks the request,
        makes a key, POSTs it as JSON to ``callback_url`` (with ``via``) and keeps it only if
        the answer is exactly 200 (``maybe_delete_key``). Returns where the browser goes next
        (``return_url`` with ``success=1&user_id=…``); raises AuthorizeFailed as WooCommerce
        shows its error page."""
        query = self._authorize_query(authorize_url)
        scope = permissions or query["scope"]
        key = ApiKey("ck_" + secrets.token_hex(20), "cs_" + secrets.token_hex(20), scope)
        self.keys[key.consumer_key] = key
        body = {"key_id": len(self.keys), "user_id": query["user_id"],
                "consumer_key": key.consumer_key, "consumer_secret": key.consumer_secret,
                "key_permissions": scope}  # fmt: skip
        try:
            answer = await via.post(
                query["callback_url"],
                content=json.dumps(body),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=60,
            )
            status = answer.status_code
        except httpx.HTTPError:
            status = 0
        if status != 200:
            del self.keys[key.consumer_key]
            raise AuthorizeFailed(
                "An error occurred in the request and at the time were unable to send the "
                "consumer data"
            )
        return _with_query(query["return_url"], success="1", user_id=query["user_id"])

    def decline(self, authorize_url: str) -> str:
        query = self._authorize_query(authorize_url)
        return _with_query(query["return_url"], success="0", user_id=query["user_id"])

    def _authorize_query(self, authorize_url: str) -> dict[str, str]:
        """``WC_Auth::make_validation``: every parameter present, a known scope, and the
        callback over SSL."""
        parts = urlsplit(authorize_url)
        if f"{parts.scheme}://{parts.netloc}" != self.url or parts.path != "/wc-auth/v1/authorize":
            raise AuthorizeFailed(f"not this store's authorize endpoint: {authorize_url}")
        query = dict(parse_qsl(parts.query))
        for name in ("app_name", "scope", "user_id", "return_url", "callback_url"):
            if not query.get(name):
                raise AuthorizeFailed(f"Missing parameter {name}")
        if query["scope"] not in ("read", "write", "read_write"):
            raise AuthorizeFailed("Invalid scope " + query["scope"])
        if not query["callback_url"].lower().startswith("https://"):
            raise AuthorizeFailed("The callback_url needs to be over SSL")
        return query

    def add_customer(self, email: str, first_name: str = "", last_name: str = "") -> Json:
        with self._lock:
            customer = _fixture("customer.json")
            now = wc_time()
            customer.update(
                id=self._new_id(),
                email=email.lower(),
                first_name=first_name,
                last_name=last_name,
                username=email.split("@")[0],
                date_created=now,
                date_created_gmt=now,
                date_modified=now,
                date_modified_gmt=now,
                meta_data=[],
            )
            customer["billing"] |= {"email": email, "first_name": first_name}
            customer.pop("_links", None)
            self._state.customers[customer["id"]] = customer
            return copy.deepcopy(customer)

    def add_order(self, order: Mapping[str, Any], *, modified: datetime | None = None) -> Json:
        """Store an order as given (an ``order.json``-shaped body); a missing id is assigned and
        ``modified`` sets both modification dates."""
        with self._lock:
            stored = copy.deepcopy(dict(order))
            stored.setdefault("id", self._new_id())
            if modified is not None:
                stored["date_modified"] = stored["date_modified_gmt"] = wc_time(modified)
            self._state.orders[int(stored["id"])] = stored
            return copy.deepcopy(stored)

    def add_product(
        self, product_id: int | None = None, *, categories: tuple[str, ...] = ()
    ) -> Json:
        """A product in the categories with these slugs (made if new; a variation's lines name
        this product, its parent, which carries the categories); adding it again replaces its
        categories (the merchant editing the catalog)."""
        with self._lock:
            now = wc_time()
            pid = product_id or self._new_id()
            product = {
                "id": pid, "name": f"Product {pid}", "slug": f"product-{pid}",
                "permalink": f"{self.public_url or ''}/product/product-{pid}/",
                "date_created": now, "date_created_gmt": now,
                "date_modified": now, "date_modified_gmt": now,
                "type": "simple", "status": "publish", "parent_id": 0, "sku": "",
                "price": "10.00", "regular_price": "10.00",
                "categories": [self._category(slug) for slug in categories],
                "tags": [], "variations": [], "meta_data": [],
            }  # fmt: skip
            self._state.products[pid] = product
            return copy.deepcopy(product)

    def _category(self, slug: str) -> Json:
        found = self._state.categories.get(slug)
        if found is None:
            name = slug.replace("-", " ").title()
            found = {"id": self._new_id(), "name": name, "slug": slug}
            self._state.categories[slug] = found
        return dict(found)

    def add_webhook(self, topic: str, delivery_url: str, *, status: str = "active") -> Json:
        """A subscription made by someone else (the owner, an earlier install)."""
        body = {"topic": topic, "delivery_url": delivery_url, "status": status}
        with self._lock:
            response = self._create_webhook(_NO_REQUEST, body)
        created: Json = json.loads(bytes(response.body))
        return created

    def disable_webhook(self, webhook_id: int | str) -> None:
        """What WooCommerce does after 5 failed deliveries in a row."""
        self.set_webhook_status(webhook_id, "disabled")

    def set_webhook_status(self, webhook_id: int | str, status: str) -> None:
        if status not in WEBHOOK_STATUSES:
            raise ValueError(f"a webhook's status is one of {WEBHOOK_STATUSES}")
        with self._lock:
            self._state.webhooks[int(webhook_id)]["status"] = status

    def fail_next(
        self, n: int = 1, *, status: int = 503, retry_after: str | None = None, body: bytes = b""
    ) -> None:
        """The next ``n`` requests get ``status`` before any auth (as a proxy in front of
        WordPress answers); a 5xx has an HTML body unless ``body`` is given."""
        with self._lock:
            for _ in range(n):
                self._injections.append(_Injection(status, retry_after, body or None))

    def throttle_next(self, n: int = 1, *, retry_after: str = "2") -> None:
        self.fail_next(n, status=429, retry_after=retry_after)

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """The next ``n`` requests are answered only after ``seconds`` (a client with a shorter
        timeout sees a timeout)."""
        with self._lock:
            self._delays.extend([seconds] * n)

    async def deliver(
        self, topic: str, resource_id: int | str, *, http: httpx.AsyncClient
    ) -> list[Delivery]:
        """Send ``topic`` for a resource to every active webhook on it, as
        ``WC_Webhook::deliver`` does: the REST body (``{"id"}`` for ``*.deleted``) as
        ``wp_json_encode`` writes it, signed with the webhook's secret, once (WooCommerce never
        retries). An answer outside 200–302 counts as a failure; once a webhook's count is past
        5 the next failure disables it (``failed_delivery``). Success resets the count."""
        resource, _, event = topic.partition(".")
        with self._lock:
            hooks = [
                copy.deepcopy(w)
                for w in self._state.webhooks.values()
                if w["topic"] == topic and w["status"] == "active"
            ]
            payload = (
                {"id": int(resource_id)}
                if event == "deleted"
                else self._resource(topic, resource_id)
            )
        body = _wp_json_encode(payload)
        deliveries = []
        for hook in hooks:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "WooCommerce/9.9.0 Hookshot (WordPress/6.8)",
                "X-WC-Webhook-Source": (self.public_url or self.url).rstrip("/") + "/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": _sign(body, hook["_secret"]),
                "X-WC-Webhook-ID": str(hook["id"]),
                "X-WC-Webhook-Delivery-ID": hashlib.md5(
                    f"{hook['id']}{int(time.time())}".encode()
                ).hexdigest(),
            }
            try:
                response = await http.post(hook["delivery_url"], content=body, headers=headers)
                status: int | None = response.status_code
            except httpx.HTTPError:
                status = None
            delivered = status is not None and 200 <= status <= 302
            with self._lock:
                stored = self._state.webhooks.get(hook["id"])
                if stored is not None:
                    if delivered:
                        stored["_failures"] = 0
                    elif stored["_failures"] > 5:
                        stored["status"] = "disabled"
                    else:
                        stored["_failures"] += 1
            deliveries.append(Delivery(hook["id"], status, body))
        return deliveries

    def _resource(self, topic: str, resource_id: int | str) -> Json:
        resource = topic.partition(".")[0]
        found = {
            "order": self._state.orders,
            "customer": self._state.customers,
            "coupon": self._state.coupons,
        }[resource].get(int(resource_id))
        if found is None:
            raise KeyError(f"the fake has no {resource} {resource_id}")
        return self._render_coupon(found) if resource == "coupon" else copy.deepcopy(found)

    # --- what a test reads -------------------------------------------------------------------

    @property
    def coupons(self) -> list[Json]:
        with self._lock:
            return [self._render_coupon(c) for c in self._state.coupons.values()]

    def coupon(self, code: str) -> Json | None:
        with self._lock:
            found = self._coupon_by_code(code)
            return None if found is None else self._render_coupon(found)

    def customer(self, customer_id: int | str) -> Json:
        with self._lock:
            return copy.deepcopy(self._state.customers[int(customer_id)])

    def order(self, order_id: int | str) -> Json:
        with self._lock:
            return copy.deepcopy(self._state.orders[int(order_id)])

    def meta(self, customer_id: int | str) -> dict[str, Any]:
        """A customer's meta_data as ``{key: value}``."""
        return {m["key"]: m["value"] for m in self.customer(customer_id)["meta_data"]}

    @property
    def webhooks(self) -> list[Json]:
        with self._lock:
            return [_public_webhook(w) for w in self._state.webhooks.values()]

    def webhook_secret(self, webhook_id: int | str) -> str:
        with self._lock:
            return str(self._state.webhooks[int(webhook_id)]["_secret"])

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path is ``path`` under the API."""
        return [r for r in self.requests if r.method == method and r.path == API + path]

    # --- dispatch ----------------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        received_at, monotonic = datetime.now(UTC), time.monotonic()
        raw = await request.body()
        auth_kind = "none"
        with self._lock:
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        try:
            with self._lock:
                injection = self._injections.popleft() if self._injections else None
                if injection is not None:
                    response = _injected(injection)
                else:
                    auth = self._authenticate(request)
                    auth_kind = auth.kind
                    response = self._handle(request, raw, auth)
        except WPError as error:
            response = error.response()
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    at=received_at,
                    monotonic=monotonic,
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    status=response.status_code,
                    auth=auth_kind,
                    body=_decoded(raw),
                )
            )
        return response

    def _handle(self, request: Request, raw: bytes, auth: _Auth) -> Response:
        path = request.url.path
        if not path.startswith(API + "/"):
            raise _no_route()
        for route in self._routes:
            match = route.pattern.fullmatch(path[len(API) :])
            if route.method == request.method and match:
                break
        else:
            raise _no_route()
        if auth.key is None:
            raise _cannot(route.action, route.denied)
        if not auth.key.manager:  # logged in, without the capability: 403
            raise _cannot(route.action, route.denied, status=403)
        body = _json_body(raw) if request.method in ("POST", "PUT", "PATCH") else {}
        groups = (int(g) if g.isdecimal() else g for g in match.groups())
        return route.handler(request, body, *groups)

    def _route_table(self) -> list[_Route]:
        def route(
            method: str, pattern: str, handler: Callable[..., Response], action: str
        ) -> _Route:
            return _Route(method, re.compile(pattern), handler, action)

        one = r"/(\d+)"
        slug = r"/([\w-]+)"
        return [
            route("GET", "/settings" + slug, self._list_settings, "view"),
            _Route("GET", re.compile("/settings" + slug + slug), self._get_setting, "view"),
            _Route(
                "PUT",
                re.compile("/settings" + slug + slug),
                self._update_setting,
                "edit",
                "Sorry, you cannot edit this resource.",
            ),
            route("GET", "/coupons", self._list_coupons, "view"),
            route("POST", "/coupons", self._create_coupon, "create"),
            route("GET", "/coupons" + one, self._get_coupon, "view"),
            route("GET", "/customers" + one, self._get_customer, "view"),
            route("PUT", "/customers" + one, self._update_customer, "edit"),
            route("GET", "/webhooks", self._list_webhooks, "view"),
            route("POST", "/webhooks", self._create_webhook, "create"),
            route("GET", "/webhooks" + one, self._get_webhook, "view"),
            route("PUT", "/webhooks" + one, self._update_webhook, "edit"),
            route("DELETE", "/webhooks" + one, self._delete_webhook, "delete"),
            route("GET", "/products", self._list_products, "view"),
            route("GET", "/products" + one, self._get_product, "view"),
            route("GET", "/orders", self._list_orders, "view"),
            route("GET", "/orders" + one, self._get_order, "view"),
        ]

    # --- authentication (WC_REST_Authentication) ---------------------------------------------

    def _authenticate(self, request: Request) -> _Auth:
        is_ssl = self.https_mode and request.headers.get("x-forwarded-proto") == "https"
        if is_ssl:
            key = self._basic(request)
            if key is not None:
                return self._permitted(_Auth("basic", key), request.method)
        params = dict(request.query_params)  # PHP's $_GET: the last of a repeated key wins
        present = [p for p in _OAUTH_REQUIRED if params.get(p)]
        if not present:
            return _Auth("none")
        missing = [p for p in _OAUTH_REQUIRED if not params.get(p)]
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            raise _auth_error(f"Missing OAuth {noun} {', '.join(missing)}", "missing_parameter")
        key = self.keys.get(params["oauth_consumer_key"])
        if key is None:
            raise _auth_error("Consumer key is invalid.")
        if params["oauth_signature_method"] not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise _auth_error("Invalid signature - signature method is invalid.")
        scheme = "https" if is_ssl else "http"
        home = urlsplit(self.public_url or self.url).netloc
        base_url = f"{scheme}://{home}{request.url.path}"
        expected = woocommerce_signature(request.method, base_url, params, key.consumer_secret)
        given = params["oauth_signature"].replace(" ", "+")  # a "+" the query decoded to " "
        if not hmac.compare_digest(expected, given):
            raise _auth_error("Invalid signature - provided signature does not match.")
        timestamp = params["oauth_timestamp"]
        now = time.time()
        if not timestamp.isdecimal() or abs(int(timestamp) - now) > TIMESTAMP_WINDOW:
            raise _auth_error("Invalid timestamp.")
        nonce = (key.consumer_key, params["oauth_nonce"])
        if nonce in self._nonces:
            raise _auth_error("Invalid nonce - nonce has already been used.")
        self._nonces.add(nonce)
        return self._permitted(_Auth("oauth", key), request.method)

    def _basic(self, request: Request) -> ApiKey | None:
        """``perform_basic_authentication``: query keys first, then the Authorization header;
        an unknown key is no authentication (not an error), a wrong secret is one."""
        given_key = request.query_params.get("consumer_key")
        given_secret = request.query_params.get("consumer_secret")
        header = request.headers.get("authorization", "")
        if not (given_key and given_secret) and header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return None
            given_key, _, given_secret = decoded.partition(":")
        if not given_key or not given_secret:
            return None
        key = self.keys.get(given_key)
        if key is None:
            return None
        if not hmac.compare_digest(key.consumer_secret, given_secret):
            raise _auth_error("Consumer secret is invalid.")
        return key

    @staticmethod
    def _permitted(auth: _Auth, method: str) -> _Auth:
        assert auth.key is not None
        permissions = auth.key.permissions
        if method in ("HEAD", "GET") and permissions not in ("read", "read_write"):
            raise _auth_error("The API key provided does not have read permissions.")
        if method not in ("HEAD", "GET") and permissions not in ("write", "read_write"):
            raise _auth_error("The API key provided does not have write permissions.")
        return auth

    # --- coupons -----------------------------------------------------------------------------

    def _create_coupon(self, request: Request, body: Json) -> Response:
        if body.get("code") is None:
            raise WPError(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): code",
                {"params": ["code"]},
            )
        self._validate_coupon(body)
        code = _format_code(body["code"])
        if self._coupon_by_code(code) is not None:
            raise WPError(
                400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists"
            )
        coupon = _fixture("coupon-created-response.json")
        coupon.pop("_links", None)
        now = wc_time()
        coupon.update(
            id=self._new_id(),
            code=code,
            amount="0",
            discount_type="fixed_cart",
            individual_use=False,
            exclude_sale_items=False,
            minimum_amount="0",
            date_created=now,
            date_created_gmt=now,
            date_modified=now,
            date_modified_gmt=now,
        )
        self._apply_coupon(coupon, body)
        self._state.coupons[coupon["id"]] = coupon
        return JSONResponse(self._render_coupon(coupon), 201)

    def _validate_coupon(self, body: Json) -> None:
        if not isinstance(body["code"], str):
            raise _invalid_param("code", "code is not of type string.")
        discount_type = body.get("discount_type", "fixed_cart")
        if discount_type not in DISCOUNT_TYPES:
            choices = ", ".join(DISCOUNT_TYPES[:-1]) + f", and {DISCOUNT_TYPES[-1]}"
            raise _invalid_param("discount_type", f"discount_type is not one of {choices}.")
        for name in ("amount", "minimum_amount", "maximum_amount"):
            if name in body:
                value = body[name]
                if not isinstance(value, str):
                    raise _invalid_param(name, f"{name} is not of type string.")
                if value.strip() and _decimal(value) is None:
                    raise _invalid_param(name, f"{name} is not a decimal number.")
        for name in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
            value = body.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise _invalid_param(name, f"{name} is not of type integer.")
        for name in ("individual_use", "free_shipping", "exclude_sale_items"):
            if name in body and not isinstance(body[name], bool):
                raise _invalid_param(name, f"{name} is not of type boolean.")
        for name in ("product_ids", "excluded_product_ids"):
            ids = body.get(name, [])
            if not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids
            ):
                raise _invalid_param(name, f"{name}[0] is not of type integer.")
        emails = body.get("email_restrictions", [])
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise _invalid_param("email_restrictions", "email_restrictions is not of type array.")
        for name in ("date_expires", "date_expires_gmt"):
            value = body.get(name)
            if value is not None and _parse_date(value) is None:
                raise _invalid_param(name, "Invalid date.")
        # WC_Coupon::set_email_restrictions lower-cases, sanitizes, then refuses what is not one.
        if any(not _EMAIL.match(e.strip()) for e in emails if e.strip()):
            raise WPError(400, "coupon_invalid_email_address", "Invalid email address restriction")

    def _apply_coupon(self, coupon: Json, body: Json) -> None:
        for name in (
            "description",
            "discount_type",
            "individual_use",
            "usage_limit",
            "usage_limit_per_user",
            "limit_usage_to_x_items",
            "free_shipping",
            "product_ids",
            "excluded_product_ids",
            "exclude_sale_items",
        ):
            if name in body:
                coupon[name] = copy.deepcopy(body[name])
        for name in ("amount", "minimum_amount", "maximum_amount"):
            if name in body:
                coupon[name] = body[name].strip() or "0"
        if "email_restrictions" in body:
            coupon["email_restrictions"] = [
                e.strip().lower() for e in body["email_restrictions"] if e.strip()
            ]
        expires = body.get("date_expires_gmt", body.get("date_expires"))
        if "date_expires_gmt" in body or "date_expires" in body:
            parsed = None if expires is None else _parse_date(expires)
            coupon["date_expires"] = coupon["date_expires_gmt"] = (
                None if parsed is None else wc_time(parsed)
            )

    def _render_coupon(self, coupon: Json) -> Json:
        shown = copy.deepcopy(coupon)
        for name in ("amount", "minimum_amount", "maximum_amount"):
            shown[name] = self._format_decimal(shown[name])
        return shown

    def _format_decimal(self, value: str) -> str:
        """``wc_format_decimal`` to the store's decimals, as REST answers amounts."""
        number = _decimal(value) or Decimal(0)
        return str(number.quantize(Decimal(1).scaleb(-self.decimals)))

    def _coupon_by_code(self, code: str) -> Json | None:
        wanted = _format_code(code)
        return next((c for c in self._state.coupons.values() if c["code"] == wanted), None)

    def _list_coupons(self, request: Request, body: Json) -> Response:
        coupons = list(self._state.coupons.values())
        code = request.query_params.get("code")
        if code:  # wc_get_coupon_id_by_code: an exact lookup
            found = self._coupon_by_code(code)
            coupons = [found] if found is not None else []
        return self._page(request, [self._render_coupon(c) for c in coupons])

    def _get_coupon(self, request: Request, body: Json, coupon_id: int) -> Response:
        coupon = self._state.coupons.get(coupon_id)
        if coupon is None:
            raise WPError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        return JSONResponse(self._render_coupon(coupon))

    # --- customers ---------------------------------------------------------------------------

    def _get_customer(self, request: Request, body: Json, customer_id: int) -> Response:
        customer = self._state.customers.get(customer_id)
        if customer is None:
            raise WPError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return JSONResponse(customer)

    def _update_customer(self, request: Request, body: Json, customer_id: int) -> Response:
        customer = self._state.customers.get(customer_id)
        if customer is None:  # the customers controller answers an unknown id with 400
            raise WPError(400, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        entries = body.get("meta_data", [])
        if not isinstance(entries, list) or not all(
            isinstance(m, dict) and isinstance(m.get("key"), str) for m in entries
        ):
            raise _invalid_param("meta_data", "meta_data[0][key] is not of type string.")
        for name in ("first_name", "last_name"):
            if isinstance(body.get(name), str):
                customer[name] = body[name]
        for entry in entries:
            self._update_meta(customer["meta_data"], entry)
        customer["date_modified"] = customer["date_modified_gmt"] = wc_time()
        return JSONResponse(customer)

    def _update_meta(self, meta: list[Json], entry: Json) -> None:
        """``WC_Data::update_meta_data``: by id if given, else the first entry with the key
        takes the value and the others with it go; a null value deletes."""
        key, value = entry["key"], entry.get("value")
        matches = [
            m for m in meta if (m["id"] == entry["id"] if "id" in entry else m["key"] == key)
        ]
        for extra in matches[1:]:
            meta.remove(extra)
        if value is None:
            meta[:] = [m for m in meta if m not in matches]
        elif matches:
            matches[0]["key"], matches[0]["value"] = key, value
        else:
            meta.append({"id": self._new_id(), "key": key, "value": value})

    # --- webhooks ----------------------------------------------------------------------------

    def _create_webhook(self, request: Request, body: Json) -> Response:
        topic = body.get("topic")
        if not isinstance(topic, str) or not _valid_topic(topic.lower()):
            raise WPError(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        url = body.get("delivery_url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise WPError(
                400,
                "woocommerce_rest_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        status = body.get("status", "active")
        if status not in WEBHOOK_STATUSES:
            raise _invalid_param("status", "status is not one of active, paused, and disabled.")
        resource, _, event = topic.lower().partition(".")
        now = wc_time()
        webhook = {
            "id": self._new_id(),
            "name": body.get("name") or f"Webhook created on {now}",
            "status": status,
            "topic": topic.lower(),
            "resource": resource,
            "event": event,
            "hooks": [],
            "delivery_url": url,
            "date_created": now,
            "date_created_gmt": now,
            "date_modified": now,
            "date_modified_gmt": now,
            # Kept, never shown: the REST "view" context leaves the secret out.
            "_secret": body.get("secret") or hashlib.md5(b"1|admin").hexdigest(),
            "_failures": 0,
        }
        self._state.webhooks[webhook["id"]] = webhook
        return JSONResponse(_public_webhook(webhook), 201)

    def _webhook(self, webhook_id: int) -> Json:
        webhook = self._state.webhooks.get(webhook_id)
        if webhook is None:
            raise WPError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return webhook

    def _get_webhook(self, request: Request, body: Json, webhook_id: int) -> Response:
        return JSONResponse(_public_webhook(self._webhook(webhook_id)))

    def _update_webhook(self, request: Request, body: Json, webhook_id: int) -> Response:
        webhook = self._webhook(webhook_id)
        if "status" in body:
            if body["status"] not in WEBHOOK_STATUSES:
                raise _invalid_param("status", "status is not one of active, paused, and disabled.")
            webhook["status"] = body["status"]
        if body.get("secret"):
            webhook["_secret"] = body["secret"]
        for name in ("name", "delivery_url"):
            if isinstance(body.get(name), str):
                webhook[name] = body[name]
        webhook["date_modified"] = webhook["date_modified_gmt"] = wc_time()
        return JSONResponse(_public_webhook(webhook))

    def _delete_webhook(self, request: Request, body: Json, webhook_id: int) -> Response:
        webhook = self._webhook(webhook_id)
        if request.query_params.get("force") not in ("true", "1"):
            raise WPError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        del self._state.webhooks[webhook_id]
        return JSONResponse(_public_webhook(webhook))

    def _list_webhooks(self, request: Request, body: Json) -> Response:
        hooks = [_public_webhook(w) for w in self._state.webhooks.values()]
        status = request.query_params.get("status", "all")
        if status != "all":
            hooks = [h for h in hooks if h["status"] == status]
        return self._page(request, hooks)

    # --- settings ----------------------------------------------------------------------------

    def _settings_group(self, group: str) -> dict[str, Json]:
        options = self._state.settings.get(group)
        if not options:  # no plugin filled woocommerce_settings-{group}
            raise WPError(404, "rest_setting_setting_group_invalid", "Invalid setting group.")
        return options

    def _setting(self, group: str, option: str) -> Json:
        found = self._settings_group(group).get(option)
        if found is None:
            raise WPError(404, "rest_setting_setting_invalid", "Invalid setting.")
        return found

    def _shown_setting(self, setting: Json) -> Json:
        base = f"{self.public_url or self.url}{API}/settings/{setting['group_id']}"
        links = {"self": [{"href": f"{base}/{setting['id']}"}], "collection": [{"href": base}]}
        return {**copy.deepcopy(setting), "_links": links}

    def _list_settings(self, request: Request, body: Json, group: str) -> Response:
        return JSONResponse([self._shown_setting(s) for s in self._settings_group(group).values()])

    def _get_setting(self, request: Request, body: Json, group: str, option: str) -> Response:
        return JSONResponse(self._shown_setting(self._setting(group, option)))

    def _update_setting(self, request: Request, body: Json, group: str, option: str) -> Response:
        setting = self._setting(group, option)
        value = body.get("value")
        # validate_setting_text_field is wc_clean: tags stripped, trimmed (a list item by item).
        if isinstance(value, list):
            setting["value"] = [_wc_clean(v) for v in value]
        else:
            setting["value"] = "" if value is None else _wc_clean(value)
        return JSONResponse(self._shown_setting(setting))

    # --- products ----------------------------------------------------------------------------

    def _list_products(self, request: Request, body: Json) -> Response:
        """``WC_REST_Products_Controller::get_items``: newest first; ``include`` a list of ids
        (comma-separated, as ``wp_parse_id_list`` reads it), each an integer."""
        products = sorted(self._state.products.values(), key=lambda p: -p["id"])
        raw = request.query_params.get("include")
        if raw is not None:
            wanted = []
            for i, item in enumerate(part.strip() for part in raw.split(",") if part.strip()):
                if not item.isdecimal():
                    raise _invalid_param("include", f"include[{i}] is not of type integer.")
                wanted.append(int(item))
            products = [p for p in products if p["id"] in wanted]
        return self._page(request, products)

    def _get_product(self, request: Request, body: Json, product_id: int) -> Response:
        product = self._state.products.get(product_id)
        if product is None:
            raise WPError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return JSONResponse(product)

    # --- orders ------------------------------------------------------------------------------

    def _list_orders(self, request: Request, body: Json) -> Response:
        query = request.query_params
        orders = list(self._state.orders.values())
        gmt = query.get("dates_are_gmt") in ("true", "1")
        field = "date_modified_gmt" if gmt else "date_modified"
        for name, keep in (
            ("modified_after", lambda t, bound: t > bound),
            ("modified_before", lambda t, bound: t < bound),
        ):
            if name in query:
                bound = _parse_date(query[name])
                if bound is None:
                    raise _invalid_param(name, "Invalid date.")
                orders = [o for o in orders if keep(_parse_date(o[field]) or bound, bound)]
        orderby = query.get("orderby", "date")
        sort_key = {"id": "id", "date": "date_created_gmt", "modified": "date_modified_gmt"}.get(
            orderby
        )
        if sort_key is None:
            raise _invalid_param("orderby", "orderby is not one of id, date, and modified.")
        orders.sort(key=lambda o: (o[sort_key], o["id"]), reverse=query.get("order") != "asc")
        return self._page(request, orders)

    def _get_order(self, request: Request, body: Json, order_id: int) -> Response:
        order = self._state.orders.get(order_id)
        if order is None:
            raise WPError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return JSONResponse(order)

    # --- helpers -----------------------------------------------------------------------------

    def _page(self, request: Request, items: list[Json]) -> Response:
        per_page = _int_param(request, "per_page", 10)
        page = _int_param(request, "page", 1)
        if not 1 <= per_page <= 100:
            raise _invalid_param(
                "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"
            )
        if page < 1:
            raise _invalid_param("page", "page must be greater than or equal to 1")
        total = len(items)
        pages = math.ceil(total / per_page)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        base = f"{self.public_url or self.url}{request.url.path}"
        if page < pages:
            links.append(f'<{base}?page={page + 1}&per_page={per_page}>; rel="next"')
        if page > 1:
            links.append(f'<{base}?page={page - 1}&per_page={per_page}>; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        return JSONResponse(copy.deepcopy(chunk), headers=headers)

    def _new_id(self) -> int:
        return next(self._ids)


def _wp_json_encode(payload: object) -> bytes:
    """PHP's ``json_encode`` defaults, as WordPress sends webhook bodies: compact, slashes
    escaped, non-ASCII as ``\\uXXXX``."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode()


def _sign(body: bytes, secret: str) -> str:
    """``WC_Webhook::generate_signature`` for a secret without HTML entities (Vafa's are
    letters and digits)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _wc_clean(value: object) -> str:
    return re.sub(r"<[^>]*>", "", str(value)).strip()


def _fixture(name: str) -> Json:
    value: Json = json.loads((FIXTURES / name).read_bytes())
    return value


def _format_code(code: str) -> str:
    """``wc_format_coupon_code``: trimmed and lower-cased."""
    return code.strip().lower()


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _parse_date(value: object) -> datetime | None:
    """WordPress's ``rest_parse_date``: ISO 8601, an offset optional (none: the site's UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _valid_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic``."""
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    resource, _, event = topic.partition(".")
    return resource in _RESOURCES and event in _EVENTS


def _public_webhook(webhook: Json) -> Json:
    return {k: copy.deepcopy(v) for k, v in webhook.items() if not k.startswith("_")}


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.strip().lstrip("-").isdecimal():
        raise _invalid_param(name, f"{name} is not of type integer.")
    return int(value)


def _json_body(raw: bytes) -> Json:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise WPError(400, "rest_invalid_json", "Invalid JSON body passed.") from exc
    if not isinstance(body, dict):
        raise WPError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw


def _no_route() -> WPError:
    return WPError(404, "rest_no_route", "No route was found matching the URL and request method.")


def _auth_error(message: str, suffix: str = "error") -> WPError:
    return WPError(401, f"woocommerce_rest_authentication_{suffix}", message)


def _cannot(action: str, message: str | None = None, *, status: int = 401) -> WPError:
    """A failed permission check (``rest_authorization_required_code``: 401 for nobody logged
    in, 403 for a user without the capability)."""
    messages = {
        "view": "Sorry, you cannot list resources.",
        "create": "Sorry, you are not allowed to create resources.",
        "edit": "Sorry, you are not allowed to edit this resource.",
        "delete": "Sorry, you are not allowed to delete this resource.",
    }
    return WPError(status, f"woocommerce_rest_cannot_{action}", message or messages[action])


def _injected(injection: _Injection) -> Response:
    headers = {"Retry-After": injection.retry_after} if injection.retry_after else {}
    if injection.body is not None:
        return Response(injection.body, injection.status, headers, "application/json")
    if injection.status == 429:
        body = {
            "code": "rest_too_many_requests",
            "message": "Too many requests.",
            "data": {"status": 429},
        }
        return JSONResponse(body, 429, headers)
    page = f"<html><body><h1>{injection.status}</h1></body></html>".encode()
    return Response(page, injection.status, headers, "text/html")
