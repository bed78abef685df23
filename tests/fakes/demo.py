"""``make demo``: the whole loop on one machine, with nothing but this checkout.

Starts the fake Shopify and the fake WooCommerce (real HTTP servers, tests/fakes), then
``vafa serve`` on a fresh SQLite database (worker in-process, as ``make run`` starts it), and for
each platform: registers a shop that talks to its fake store, sends a signed order webhook,
creates a reward, redeems it, and shows the code the store now holds and the balance Vafa wrote
back on the store's customer record. Everything runs on 127.0.0.1 and stops when it is done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import dumps, shopify_order, woo_order
from tests.signing import shopify_headers, woocommerce_headers

SHOPIFY_DOMAIN = "demo-club.myshopify.com"
SHOPIFY_SECRET = "demo-webhook-secret"
SHOPIFY_CUSTOMER = 1073339475
T = TypeVar("T")
# The CLI of this checkout, whichever venv runs the demo.
VAFA = [sys.executable, "-c", "from app.cli import main; main()"]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _vafa(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run([*VAFA, *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"vafa {' '.join(args)} failed:\n{out.stderr}")
    return json.loads(out.stdout) if out.stdout.strip().startswith("{") else out.stdout


@contextmanager
def _serve(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [*VAFA, "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _until(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200, 30)
            yield base
        finally:
            proc.terminate()
            proc.wait(15)


def _until(check: Callable[[], T], seconds: float, what: str = "the service") -> T:
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def _admin(base: str, shop: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {shop['admin_api_key']}"})


def _member(api: httpx.Client, customer_id: str) -> dict[str, Any]:
    r = api.get(f"/api/v1/members/{customer_id}")
    return r.json() if r.status_code == 200 else {}


def _redeem(api: httpx.Client, customer_id: str, reward_id: int, key: str) -> dict[str, Any]:
    r = api.post(
        f"/api/v1/members/{customer_id}/redemptions",
        json={"reward_id": reward_id, "idempotency_key": key},
    )
    if r.status_code not in (200, 201, 202):
        raise SystemExit(f"the redemption was refused: {r.status_code} {r.text}")
    redemption: dict[str, Any] = r.json()
    path = f"/api/v1/members/{customer_id}/redemptions/{redemption['id']}"
    return _until(
        lambda: (found := api.get(path).json())["status"] != "pending" and found,
        30,
        "the code to be created on the store",
    )


def _reward(api: httpx.Client, name: str, points: int, value_minor: int) -> int:
    reward = {"name": name, "kind": "amount_off", "points_cost": points, "value": value_minor}
    r = api.post("/api/v1/rewards", json={**reward, "code_valid_days": 30, "active": True})
    if r.status_code != 201:
        raise SystemExit(f"the reward was refused: {r.status_code} {r.text}")
    reward_id: int = r.json()["id"]
    return reward_id


def shopify_loop(env: dict[str, str], base: str, fake: FakeShopify) -> None:
    say("\n== Shopify")
    fake.add_customer(SHOPIFY_CUSTOMER, email="sara@example.com")
    shop = _vafa(
        env,
        *("shop", "add-shopify", "--domain", SHOPIFY_DOMAIN, "--access-token", DEFAULT_TOKEN),
        *("--api-secret", SHOPIFY_SECRET, "--api-url", fake.base_url),
    )
    say(f"shop {shop['shop_id']} added, talking to the fake Shopify at {fake.base_url}")
    body = dumps(shopify_order(9001, customer_id=SHOPIFY_CUSTOMER, merchandise="181.09"))
    headers = shopify_headers(
        body, secret=SHOPIFY_SECRET, topic="orders/paid", domain=SHOPIFY_DOMAIN, event_id="d-9001"
    )
    r = httpx.post(f"{base}/webhooks/shopify", content=body, headers=headers)
    say(f"orders/paid for order #9001 → {r.json()}")
    customer = str(SHOPIFY_CUSTOMER)
    with _admin(base, shop) as api:
        code = _earn_and_redeem(api, customer, "5.00 off", 500, "demo-shopify-1")
        say(f"the fake Shopify holds {code}: {orjson.dumps(fake.discount(code)).decode()}")
        points = str(_member(api, customer)["points"]["available"])
        _until(
            lambda: (fake.metafield(customer, "points") or {}).get("value") == points,
            30,
            "the balance to be written back",
        )
        say(f"vafa.points on the Shopify customer: {fake.metafield(customer, 'points')['value']}")


def woocommerce_loop(env: dict[str, str], base: str, fake: FakeWooCommerce) -> None:
    say("\n== WooCommerce")
    customer = fake.add_customer("reza@example.com", "Reza")
    shop = _vafa(
        env,
        *("shop", "add-woocommerce", "--url", fake.url),
        *("--consumer-key", fake.consumer_key, "--consumer-secret", fake.consumer_secret),
    )
    say(f"shop {shop['shop_id']} added, talking to the fake WooCommerce at {fake.url}")
    order = woo_order(501, customer_id=customer["id"], lines=("120.00",), total="120.00")
    body = dumps(order)
    headers = woocommerce_headers(body, secret=shop["webhook_secret"], topic="order.updated")
    r = httpx.post(f"{base}{shop['webhook_url']}", content=body, headers=headers)
    say(f"order.updated for order 501 → {r.json()}")
    cid = str(customer["id"])
    with _admin(base, shop) as api:
        code = _earn_and_redeem(api, cid, "10.00 off", 1000, "demo-woo-1")
        say(f"the fake WooCommerce holds coupon {orjson.dumps(fake.coupon(code)).decode()}")
        points = str(_member(api, cid)["points"]["available"])
        _until(
            lambda: fake.meta(cid).get("vafa_points") == points,
            30,
            "the balance to be written back",
        )
        say(f"vafa_points on the WooCommerce customer: {fake.meta(cid)['vafa_points']}")


def _earn_and_redeem(api: httpx.Client, customer: str, name: str, value: int, key: str) -> str:
    """Wait for the order's points, redeem 100 of them for ``value`` off; the code."""
    member = _until(lambda: _member(api, customer), 30, "the order to be credited")
    say(f"member {customer}: {member['points']}")
    reward = _reward(api, name, 100, value)
    redemption = _redeem(api, customer, reward, key)
    say(f"redeemed reward {reward}: {redemption}")
    if redemption["status"] != "issued":
        raise SystemExit(f"the code was not issued: {redemption}")
    code: str = redemption["code"]
    return code


def main() -> None:
    from app.crypto import new_secret_key

    with (
        tempfile.TemporaryDirectory(prefix="vafa-demo-") as tmp,
        FakeShopify().running() as shopify,
        FakeWooCommerce() as woo,
    ):
        port = _free_port()
        env = {
            **os.environ,
            "VAFA_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}",
            "VAFA_SECRET_KEY": new_secret_key(),
            "VAFA_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "VAFA_ALLOW_PRIVATE_STORES": "true",  # the fake stores are on 127.0.0.1
            "VAFA_LOG_LEVEL": "warning",
        }
        _vafa(env, "migrate")
        log = Path(tmp) / "serve.log"
        say(f"vafa serve on http://127.0.0.1:{port} (SQLite in {tmp}, worker in-process)")
        try:
            with _serve(env, port, log) as base:
                shopify_loop(env, base, shopify)
                woocommerce_loop(env, base, woo)
        except BaseException:
            say(f"\nvafa serve's log:\n{log.read_text()[-4000:]}")
            raise
        say("\nThe whole loop ran: earn, redeem, a real code on each store, the balance back.")


if __name__ == "__main__":
    main()
