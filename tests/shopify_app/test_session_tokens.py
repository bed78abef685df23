"""Session tokens (PLATFORMS.md S4): a token App Bridge would send is accepted at the moment it
is good (with 10 s of clock difference either way); one forged, tampered with, expired, early,
for another app or naming two shops is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import jwt
import pytest

from app.shopify_app.session_tokens import LEEWAY_SECONDS, InvalidSessionToken, decode

SECRET = "shpss_0123456789abcdef0123456789abcdef"
CLIENT_ID = "fake-client-id"
SHOP = "vafa-test.myshopify.com"
NBF, EXP = 1796000000, 1796000060
# A token as App Bridge sends it (claims as Shopify's docs list them), HS256 with SECRET.
VECTOR = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL3ZhZmEtdGVzdC5teXNob3BpZnkuY29tL2FkbWluIiwiZGVzdCI6Imh0dHBzOi8vdmFmYS10"
    "ZXN0Lm15c2hvcGlmeS5jb20iLCJhdWQiOiJmYWtlLWNsaWVudC1pZCIsInN1YiI6IjQyIiwiZXhwIjoxNzk2MDAwMDYw"
    "LCJuYmYiOjE3OTYwMDAwMDAsImlhdCI6MTc5NjAwMDAwMCwianRpIjoiZjg5MTIxMjktMWFmNi00Y2FkLTljYTMtNzZi"
    "MGY3NjIxMDg3Iiwic2lkIjoiYWFlYTE4MmYyNzMyZDQ0YzIzMDU3YzBmZWE1ODQwMjFhNDQ4NWIyYmQyNWQzZWI3ZmQz"
    "NDkzMTNhZDI0YzY4NSJ9."
    "sn1nLcu_27Wz3SRbZAQaYMvvbB0m_n6DEYpThf-lu5k"
)
CLAIMS: dict[str, Any] = {
    "iss": f"https://{SHOP}/admin",
    "dest": f"https://{SHOP}",
    "aud": CLIENT_ID,
    "sub": "42",
    "exp": EXP,
    "nbf": NBF,
    "iat": NBF,
    "jti": "f8912129-1af6-4cad-9ca3-76b0f7621087",
    "sid": "aaea182f2732d44c23057c0fea584021a4485b2bd25d3eb7fd349313ad24c685",
}


def _decode(token: str, now: float = NBF + 1, client_id: str = CLIENT_ID) -> Any:
    return decode(token, client_id=client_id, client_secret=SECRET, now=now)


def _token(secret: str = SECRET, **changes: Any) -> str:
    claims = {k: v for k, v in (CLAIMS | changes).items() if v is not None}
    return jwt.encode(claims, secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestTheVector:
    def test_its_signature_is_hs256_of_header_and_claims_with_the_client_secret(self) -> None:
        # Checked by hand, apart from the JWT library: the vector is what it says it is.
        signed, _, signature = VECTOR.rpartition(".")
        mac = hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).digest()
        assert _b64(mac) == signature

    def test_it_is_accepted_while_good_and_names_the_shop_and_the_staff_member(self) -> None:
        token = _decode(VECTOR)
        assert (token.shop, token.user, token.expires_at) == (SHOP, "42", EXP)

    def test_with_the_clock_up_to_the_leeway_apart(self) -> None:
        assert _decode(VECTOR, now=NBF - LEEWAY_SECONDS).shop == SHOP  # nbf a little ahead
        assert _decode(VECTOR, now=EXP + LEEWAY_SECONDS).shop == SHOP

    def test_replayed_after_it_expired_it_is_refused(self) -> None:
        with pytest.raises(InvalidSessionToken, match="expired"):
            _decode(VECTOR, now=EXP + LEEWAY_SECONDS + 1)

    def test_before_it_is_good_it_is_refused(self) -> None:
        with pytest.raises(InvalidSessionToken, match="not valid yet"):
            _decode(VECTOR, now=NBF - LEEWAY_SECONDS - 1)

    def test_for_another_app_it_is_refused(self) -> None:
        with pytest.raises(InvalidSessionToken, match="another app"):
            _decode(VECTOR, client_id="someone-elses-app")


class TestTampered:
    def test_claims_changed_under_the_same_signature(self) -> None:
        header, claims, signature = VECTOR.split(".")
        other = _token(dest="https://other.myshopify.com").split(".")[1]
        with pytest.raises(InvalidSessionToken, match="not valid"):
            _decode(f"{header}.{other}.{signature}")

    def test_signed_with_another_secret(self) -> None:
        with pytest.raises(InvalidSessionToken, match="not valid"):
            _decode(_token(secret="shpss_ffffffffffffffffffffffffffffffff"))

    def test_unsigned_alg_none(self) -> None:
        header = _b64(b'{"alg":"none","typ":"JWT"}')
        claims = VECTOR.split(".")[1]
        with pytest.raises(InvalidSessionToken, match="not valid"):
            _decode(f"{header}.{claims}.")

    def test_another_hmac_algorithm(self) -> None:
        signed = _b64(b'{"alg":"HS512","typ":"JWT"}') + "." + VECTOR.split(".")[1]
        mac = hmac.new(SECRET.encode(), signed.encode(), hashlib.sha512).digest()
        with pytest.raises(InvalidSessionToken, match="not valid"):
            _decode(f"{signed}.{_b64(mac)}")

    def test_not_a_jwt(self) -> None:
        with pytest.raises(InvalidSessionToken):
            _decode("vafa_sk_1_abc")


class TestClaims:
    @pytest.mark.parametrize("missing", ["iss", "dest", "aud", "sub", "exp", "nbf"])
    def test_a_required_claim_missing(self, missing: str) -> None:
        with pytest.raises(InvalidSessionToken):
            _decode(_token(**{missing: None}))

    def test_iss_and_dest_naming_two_shops(self) -> None:
        with pytest.raises(InvalidSessionToken, match="different shops"):
            _decode(_token(iss="https://other.myshopify.com/admin"))

    @pytest.mark.parametrize(
        "dest", ["https://evil.example.com", "http://vafa-test.myshopify.com", "vafa-test"]
    )
    def test_a_dest_that_is_not_a_shop(self, dest: str) -> None:
        with pytest.raises(InvalidSessionToken):
            _decode(_token(dest=dest, iss=f"{dest}/admin"))

    def test_times_that_are_not_numbers(self) -> None:
        with pytest.raises(InvalidSessionToken):
            _decode(_token(exp="soon"))

    def test_no_client_secret_accepts_nothing(self) -> None:
        with pytest.raises(InvalidSessionToken, match="no client secret"):
            decode(VECTOR, client_id=CLIENT_ID, client_secret="", now=NBF)
