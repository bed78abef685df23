"""The signatures on Shopify's queries: the published test vectors (PLATFORMS.md S3, S5) pass,
and a query tampered with, out of date or naming a host that is not a shop is refused."""

from __future__ import annotations

import pytest

from app.shopify_app.signatures import (
    TIMESTAMP_TOLERANCE_SECONDS,
    BadSignature,
    admin_hmac,
    admin_message,
    proxy_message,
    shop_domain,
    verify_admin_query,
    verify_proxy_query,
)

SECRET = "hush"
OAUTH = [
    ("code", "0907a61c0c8d55e99db179b68161bc00"),
    ("shop", "some-shop.myshopify.com"),
    ("timestamp", "1337178173"),
]
OAUTH_HMAC = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
OAUTH_WITH_STATE_HMAC = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
OAUTH_TIME = 1337178173

PROXY = [
    ("extra", "1"),
    ("extra", "2"),
    ("shop", "shop-name.myshopify.com"),
    ("logged_in_customer_id", "1"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
]
PROXY_SIGNATURE = "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
PROXY_TIME = 1317327555


def proxy_signature_unchecked(query: list[tuple[str, str]]) -> str:
    """What Shopify's proxy signs, repeated keys joined by ``,`` (S5), made here independently
    of Vafa's code, which refuses such a query before it signs anything."""
    import hashlib
    import hmac

    values: dict[str, list[str]] = {}
    for k, v in query:
        values.setdefault(k, []).append(v)
    message = "".join(f"{k}={','.join(values[k])}" for k in sorted(values))
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def _replace(query: list[tuple[str, str]], key: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k == key else v) for k, v in query]


class TestOAuthQueryVectors:
    def test_the_published_message_and_hmac(self) -> None:
        assert admin_message(OAUTH) == (
            "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
            "&timestamp=1337178173"
        )
        assert admin_hmac(OAUTH, SECRET) == OAUTH_HMAC

    def test_the_state_is_signed_in_its_sorted_place(self) -> None:
        # Given in any order, as a query string may be: sorted before signing.
        query = [("state", "0.6784241404160823"), *reversed(OAUTH)]
        assert admin_hmac(query, SECRET) == OAUTH_WITH_STATE_HMAC

    def test_a_signed_query_verifies_and_names_its_shop(self) -> None:
        query = [*OAUTH, ("hmac", OAUTH_HMAC)]
        assert verify_admin_query(query, [SECRET], now=OAUTH_TIME) == "some-shop.myshopify.com"

    def test_the_previous_secret_still_verifies_after_a_rotation(self) -> None:
        query = [*OAUTH, ("hmac", OAUTH_HMAC)]
        assert verify_admin_query(query, ["new-secret", SECRET], now=OAUTH_TIME)

    def test_spaces_are_signed_as_percent_20(self) -> None:
        assert admin_message([("a", "x y"), ("b", "&=")]) == "a=x%20y&b=%26%3D"


class TestOAuthQueryRefused:
    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("code", "0907a61c0c8d55e99db179b68161bc01"),
            ("shop", "other-shop.myshopify.com"),
            ("timestamp", "1337178174"),
            ("hmac", OAUTH_HMAC[:-1] + "1"),
        ],
    )
    def test_a_tampered_query(self, key: str, value: str) -> None:
        query = _replace([*OAUTH, ("hmac", OAUTH_HMAC)], key, value)
        with pytest.raises(BadSignature):
            verify_admin_query(query, [SECRET], now=OAUTH_TIME)

    def test_a_parameter_added_to_a_signed_query(self) -> None:
        query = [*OAUTH, ("hmac", OAUTH_HMAC), ("state", "mine")]
        with pytest.raises(BadSignature, match="hmac"):
            verify_admin_query(query, [SECRET], now=OAUTH_TIME)

    def test_without_an_hmac_or_with_another_secret(self) -> None:
        with pytest.raises(BadSignature):
            verify_admin_query(OAUTH, [SECRET], now=OAUTH_TIME)
        with pytest.raises(BadSignature):
            verify_admin_query([*OAUTH, ("hmac", OAUTH_HMAC)], ["other"], now=OAUTH_TIME)

    def test_an_empty_secret_verifies_nothing(self) -> None:
        query = [*OAUTH, ("hmac", admin_hmac(OAUTH, ""))]
        with pytest.raises(BadSignature, match="no secret"):
            verify_admin_query(query, [""], now=OAUTH_TIME)

    @pytest.mark.parametrize("sign", [1, -1])
    def test_a_replay_out_of_the_timestamp_window(self, sign: int) -> None:
        query = [*OAUTH, ("hmac", OAUTH_HMAC)]
        edge = OAUTH_TIME + sign * TIMESTAMP_TOLERANCE_SECONDS
        assert verify_admin_query(query, [SECRET], now=edge)  # still within the clock tolerance
        with pytest.raises(BadSignature, match="timestamp"):
            verify_admin_query(query, [SECRET], now=edge + sign)

    def test_a_second_hmac_or_shop(self) -> None:
        for key, value in (("hmac", "x"), ("shop", "evil.myshopify.com")):
            with pytest.raises(BadSignature, match="more than once"):
                verify_admin_query([*OAUTH, ("hmac", OAUTH_HMAC), (key, value)], [SECRET])

    def test_a_signed_query_whose_shop_is_not_a_myshopify_host(self) -> None:
        query = _replace(OAUTH, "shop", "evil.example.com")
        with pytest.raises(BadSignature, match="myshopify"):
            verify_admin_query([*query, ("hmac", admin_hmac(query, SECRET))], [SECRET],
                               now=OAUTH_TIME)  # fmt: skip


class TestShopDomain:
    @pytest.mark.parametrize(
        "value",
        [
            "evil.com",
            "shop.myshopify.com.evil.com",
            "https://shop.myshopify.com",
            "shop.myshopify.com/admin",
            "Shop.myshopify.com",
            "-shop.myshopify.com",
            "sh op.myshopify.com",
            "myshopify.com",
            "",
        ],
    )
    def test_anything_but_a_shop_host_is_refused(self, value: str) -> None:
        with pytest.raises(BadSignature):
            shop_domain(value)

    def test_a_shop_host(self) -> None:
        assert shop_domain("my-shop-2.myshopify.com") == "my-shop-2.myshopify.com"


class TestAppProxyVector:
    def test_the_published_message_and_signature(self) -> None:
        assert proxy_message(PROXY) == (
            "extra=1,2logged_in_customer_id=1path_prefix=/apps/awesome_reviews"
            "shop=shop-name.myshopify.comtimestamp=1317327555"
        )
        query = [*PROXY, ("signature", PROXY_SIGNATURE)]
        assert verify_proxy_query(query, [SECRET], now=PROXY_TIME) == "shop-name.myshopify.com"

    def test_a_guest_has_a_blank_customer_id_and_is_signed_all_the_same(self) -> None:
        from app.shopify_app.signatures import proxy_signature

        guest = _replace(PROXY, "logged_in_customer_id", "")
        signed = [*guest, ("signature", proxy_signature(guest, SECRET))]
        assert verify_proxy_query(signed, [SECRET], now=PROXY_TIME)


class TestAppProxyRefused:
    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("logged_in_customer_id", "2"),  # someone else's balance
            ("shop", "other-shop.myshopify.com"),
            ("path_prefix", "/apps/other"),
            ("timestamp", "1317327556"),
        ],
    )
    def test_a_tampered_request(self, key: str, value: str) -> None:
        query = _replace([*PROXY, ("signature", PROXY_SIGNATURE)], key, value)
        with pytest.raises(BadSignature, match="signature"):
            verify_proxy_query(query, [SECRET], now=PROXY_TIME)

    def test_a_customer_id_added_to_a_guests_request(self) -> None:
        query = [*PROXY, ("signature", PROXY_SIGNATURE), ("logged_in_customer_id", "7")]
        with pytest.raises(BadSignature, match="more than once"):
            verify_proxy_query(query, [SECRET], now=PROXY_TIME)

    @pytest.mark.parametrize("key", ["logged_in_customer_id", "path_prefix"])
    def test_a_repeated_customer_id_or_prefix_even_when_shopify_signed_it(self, key: str) -> None:
        """A shopper's own ``?logged_in_customer_id=207119551`` beside Shopify's blank one:
        the proxy signs both (joined), and the last one would be believed."""
        from app.shopify_app.signatures import proxy_signature

        guest = _replace(PROXY, "logged_in_customer_id", "")
        query = [*guest, (key, "207119551")]
        signed = [*query, ("signature", proxy_signature_unchecked(query))]
        with pytest.raises(BadSignature, match="more than once"):
            verify_proxy_query(signed, [SECRET], now=PROXY_TIME)
        with pytest.raises(BadSignature, match="more than once"):
            proxy_signature(query, SECRET)

    def test_a_replay_out_of_the_timestamp_window(self) -> None:
        query = [*PROXY, ("signature", PROXY_SIGNATURE)]
        with pytest.raises(BadSignature, match="timestamp"):
            verify_proxy_query(query, [SECRET], now=PROXY_TIME + TIMESTAMP_TOLERANCE_SECONDS + 1)

    @pytest.mark.parametrize("stamp", ["", "soon", "1.5e9", "١٣١٧٣٢٧٥٥٥"])
    def test_a_timestamp_that_is_not_whole_seconds(self, stamp: str) -> None:
        from app.shopify_app.signatures import proxy_signature

        query = _replace(PROXY, "timestamp", stamp)
        signed = [*query, ("signature", proxy_signature(query, SECRET))]
        with pytest.raises(BadSignature, match="timestamp"):
            verify_proxy_query(signed, [SECRET], now=PROXY_TIME)

    def test_a_second_signature_or_timestamp(self) -> None:
        for key in ("signature", "timestamp"):
            query = [*PROXY, ("signature", PROXY_SIGNATURE), (key, "1")]
            with pytest.raises(BadSignature, match="more than once"):
                verify_proxy_query(query, [SECRET], now=PROXY_TIME)
