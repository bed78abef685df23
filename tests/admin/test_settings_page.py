"""The admin's settings page: the language, how a Rial or Toman shop's amounts are shown (only
the display converts, 1 Toman = 10 Rial) and the widget's colour, validated beside its field."""

from __future__ import annotations

import httpx
import pytest

from app.admin import i18n
from app.program.settings import ProgramSettings
from app.shops import service as shops
from app.shops.models import Shop
from app.state import AppState
from tests.admin.helpers import admin_shop, csrf_of, sign_in


async def _rial_shop(client: httpx.AsyncClient, state: AppState, currency: str = "IRR") -> int:
    shop = await admin_shop(state)
    async with state.db.write() as session:
        await shops.update_settings(session, shop.shop_id, {"currency": currency})
    await sign_in(client, shop)
    return shop.shop_id


async def _save(client: httpx.AsyncClient, lang: str, **fields: str) -> httpx.Response:
    page = await client.get(f"/admin/settings?lang={lang}")
    return await client.post(
        "/admin/settings", data={"csrf": csrf_of(page.text), "lang": lang, **fields}
    )


async def _stored(state: AppState, shop_id: int) -> ProgramSettings:
    async with state.db.read() as session:
        shop = await session.get(Shop, shop_id)
        assert shop is not None
        return ProgramSettings.from_json(shop.settings)


async def test_a_rial_shop_chooses_toman_and_the_admin_shows_its_amounts_in_toman(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop_id = await _rial_shop(client, state)
    before = await client.get("/admin/program?lang=en")
    assert "1 Rial" in before.text  # the default rule: points per whole Rial
    r = await _save(client, "en", currency_display="toman", widget_colour="")
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "Settings saved." in page.text
    assert '<option value="toman" selected>' in page.text
    assert (await _stored(state, shop_id)).currency_display == "toman"
    after = await client.get("/admin/program?lang=en")
    # One Rial is a tenth of a Toman: shown exactly, with the one decimal it needs.
    assert "0.1 Toman" in after.text
    assert "1 Rial" not in after.text
    fa = await client.get("/admin/program?lang=fa")
    assert "۰٫۱ تومان" in fa.text


async def test_a_shop_in_another_currency_is_not_offered_toman_or_rial(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await _rial_shop(client, state, currency="EUR")
    page = await client.get("/admin/settings?lang=en")
    assert 'name="currency_display"' not in page.text
    assert 'name="widget_colour"' in page.text
    assert 'href="/admin/program"' in page.text  # the policies are edited there


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "The colour is #rrggbb"), ("fa", "رنگ باید به شکل")],
)
async def test_a_colour_that_is_not_rrggbb_is_refused_beside_its_field_and_nothing_is_saved(
    client: httpx.AsyncClient, state: AppState, lang: str, words: str
) -> None:
    shop_id = await _rial_shop(client, state)
    r = await _save(client, lang, currency_display="toman", widget_colour="purple")
    assert r.status_code == 422
    assert words in r.text
    assert 'aria-invalid="true"' in r.text
    assert 'id="e-widget_colour"' in r.text
    assert 'value="purple"' in r.text  # what they typed, to correct
    assert (await _stored(state, shop_id)).currency_display is None


async def test_a_valid_colour_is_kept_and_a_blank_one_clears_it(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop_id = await _rial_shop(client, state)
    assert (await _save(client, "en", widget_colour="#0B5D1E")).status_code == 303
    assert (await _stored(state, shop_id)).widget_colour == "#0b5d1e"
    assert 'value="#0b5d1e"' in (await client.get("/admin/settings")).text
    assert (await _save(client, "en", widget_colour="")).status_code == 303
    assert (await _stored(state, shop_id)).widget_colour is None


async def test_an_unknown_display_is_refused(client: httpx.AsyncClient, state: AppState) -> None:
    await _rial_shop(client, state)
    r = await _save(client, "en", currency_display="dollar", widget_colour="")
    assert r.status_code == 422
    assert "Choose Rial, Toman" in r.text


@pytest.mark.parametrize(
    ("minor", "currency", "display", "shown"),
    [
        (12340, "IRR", "toman", "1,234 Toman"),
        (12345, "IRR", "toman", "1,234.5 Toman"),  # not whole Tomans: one exact decimal
        (1234, "IRT", "rial", "12,340 Rial"),
        (1234, "IRT", None, "1,234 Toman"),
        (1234, "IRR", "rial", "1,234 Rial"),
        (1234, "EUR", "toman", "12.34 EUR"),  # the choice is a Rial or Toman shop's only
    ],
)
def test_money_shows_the_stored_amount_as_the_shop_chose(
    minor: int, currency: str, display: str | None, shown: str
) -> None:
    token = i18n.CURRENCY_SHOWN.set(display)
    try:
        assert i18n.money(minor, 2 if currency == "EUR" else 0, currency, "en") == shown
    finally:
        i18n.CURRENCY_SHOWN.reset(token)
