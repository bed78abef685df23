"""Contact details as comparison keys: one person written several ways gives one key, two
people give two, and a key never contains the detail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.connectors.shopify.parse import parse_order
from app.referrals import contact
from tests.referrals.scenario import REZA, SARA, shopify


class TestEmail:
    @pytest.mark.parametrize(
        "written",
        ["sara.k@gmail.com", "Sara.K@Gmail.com", "sarak@gmail.com", "s.a.r.a.k+shop@gmail.com",
         "sarak@googlemail.com", " SARAK+x@GMAIL.COM "],
    )  # fmt: skip
    def test_one_gmail_inbox_written_otherwise_is_one_key(self, written: str) -> None:
        assert contact.email_keys(written) == contact.email_keys("sarak@gmail.com")

    def test_dots_matter_outside_gmail_but_tags_do_not(self) -> None:
        assert contact.email_keys("sara.k@example.com") != contact.email_keys("sarak@example.com")
        assert contact.email_keys("sara+a@example.com") == contact.email_keys("Sara@Example.com")

    def test_what_is_not_an_address_gives_no_key(self) -> None:
        for value in ("", "sara", "@example.com", "sara@localhost", "+tag@example.com"):
            assert contact.email_keys(value) == set()

    def test_disposable_domains_and_their_subdomains_are_recognised(self) -> None:
        assert contact.is_disposable(contact.email_keys("x@mailinator.com"))
        assert contact.is_disposable(contact.email_keys("x@eu.YopMail.com"))
        assert not contact.is_disposable(contact.email_keys("x@gmail.com"))
        assert not contact.is_disposable(contact.email_keys("x@notmailinator.com"))


class TestPhoneAndAddress:
    def test_one_number_in_national_and_international_form_is_one_key(self) -> None:
        keys = {contact.phone_key(p) for p in ("+98 912 345 6789", "09123456789",
                                               "0098-912-345-6789", "(912) 345 6789")}  # fmt: skip
        assert len(keys) == 1
        assert contact.phone_key("+98 912 345 6780") not in keys
        assert contact.phone_key("12-34") is None

    def test_an_address_folds_case_and_punctuation(self) -> None:
        one = contact.address_key(["12 Vali Asr St.", None, "Tehran", "1415", "IR"])
        assert one == contact.address_key(["12, VALI-ASR st", "", "tehran", "1415", "ir"])
        assert one != contact.address_key(["14 Vali Asr St.", None, "Tehran", "1415", "IR"])


def test_a_parsed_order_carries_keys_and_no_contact_detail() -> None:
    order = shopify(2, REZA, datetime(2027, 1, 1, tzinfo=UTC), attribute="ref-abc")
    snapshot = parse_order(order, {})
    assert snapshot.referral_code == "REF-ABC"
    assert contact.email_keys(REZA.email) <= set(snapshot.contact_keys)
    assert contact.phone_key(REZA.phone) in snapshot.contact_keys
    assert contact.phone_key(SARA.phone) not in snapshot.contact_keys
    text = repr(snapshot)
    for detail in (REZA.email, REZA.phone, REZA.street, "reza"):
        assert detail not in text
