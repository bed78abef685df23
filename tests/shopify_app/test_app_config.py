"""The app's configuration as Shopify CLI deploys it (integrations/shopify) says what the code
does: the same scopes, the same webhook topics at the webhook endpoint, the app proxy at the
storefront API, the callback and App URL at the install routes; and the theme app extension's
embed block loads the widget on every page."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.main import create_app
from app.shopify_app.config import (
    CALLBACK_PATH,
    COMPLIANCE_TOPICS,
    INSTALL_PATH,
    PROXY_PATH,
    PROXY_PREFIX,
    PROXY_SUBPATH,
    SCOPES,
    WEBHOOK_PATH,
    WEBHOOK_TOPICS,
)

SHOPIFY = Path(__file__).parents[2] / "integrations" / "shopify"
EXTENSION = SHOPIFY / "extensions" / "vafa-widget"
# Where the operator's VAFA_PUBLIC_URL goes, the same in every file.
PLACEHOLDER = "https://vafa.example.com"


def _config() -> dict[str, Any]:
    with (SHOPIFY / "shopify.app.toml").open("rb") as f:
        return tomllib.load(f)


def _path_of(url: str) -> str:
    assert url.startswith(PLACEHOLDER + "/"), url
    return urlsplit(url).path


class TestAppConfiguration:
    def test_the_scopes_are_the_codes(self) -> None:
        scopes = _config()["access_scopes"]["scopes"].split(",")
        assert scopes == list(SCOPES)

    def test_the_topics_are_the_codes_compliance_ones_included(self) -> None:
        subscriptions = _config()["webhooks"]["subscriptions"]
        topics = [t for s in subscriptions for t in s.get("topics", [])]
        compliance = [t for s in subscriptions for t in s.get("compliance_topics", [])]
        assert sorted(topics) == sorted(WEBHOOK_TOPICS)
        assert len(topics) == len(set(topics))
        assert sorted(compliance) == sorted(COMPLIANCE_TOPICS)
        assert {_path_of(s["uri"]) for s in subscriptions} == {WEBHOOK_PATH}

    def test_the_webhook_api_version_is_the_one_vafa_speaks(self) -> None:
        from app.connectors.shopify.client import API_VERSION

        assert _config()["webhooks"]["api_version"] == API_VERSION

    def test_the_app_proxy_forwards_apps_vafa_to_the_storefront_api(self) -> None:
        proxy = _config()["app_proxy"]
        assert (
            (proxy["prefix"], proxy["subpath"])
            == (PROXY_PREFIX, PROXY_SUBPATH)
            == (
                "apps",
                "vafa",
            )
        )
        assert _path_of(proxy["url"]) == PROXY_PATH == "/storefront/shopify"

    def test_the_app_url_and_callback_are_routes_vafa_serves(self) -> None:
        config = _config()
        assert _path_of(config["application_url"]) == INSTALL_PATH
        assert [_path_of(u) for u in config["auth"]["redirect_urls"]] == [CALLBACK_PATH]
        served = set(create_app().openapi()["paths"])
        assert {INSTALL_PATH, CALLBACK_PATH, WEBHOOK_PATH} <= served

    def test_it_is_an_embedded_app_installed_by_shopify(self) -> None:
        config = _config()
        assert config["embedded"] is True
        assert config["access_scopes"]["use_legacy_install_flow"] is False


def _block() -> str:
    [block] = sorted((EXTENSION / "blocks").glob("*.liquid"))
    return block.read_text()


class TestThemeAppExtension:
    def test_it_is_a_theme_extension(self) -> None:
        with (EXTENSION / "shopify.extension.toml").open("rb") as f:
            extension = tomllib.load(f)
        assert extension["type"] == "theme"
        assert extension["name"]

    def test_the_block_is_an_app_embed_on_the_body(self) -> None:
        found = re.search(r"\{%\s*schema\s*%\}(.*?)\{%\s*endschema\s*%\}", _block(), re.S)
        assert found is not None
        schema = json.loads(found.group(1))
        assert schema["target"] == "body"
        assert schema["name"]
        [colour] = [s for s in schema["settings"] if s["id"] == "colour"]
        assert colour["type"] == "color"
        assert re.fullmatch(r"#[0-9a-f]{6}", colour["default"])  # what the widget accepts
        assert colour["label"]

    def test_it_loads_the_widget_from_vafa_and_places_the_element(self) -> None:
        block = _block()
        assert f"{{%- assign vafa_url = '{PLACEHOLDER}' -%}}" in block
        assert '<script src="{{ vafa_url }}/widget/v1/vafa.js" async></script>' in block
        element = re.search(r"<vafa-club\b([^>]*)>\s*</vafa-club>", block, re.S)
        assert element is not None
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', element.group(1)))
        assert attributes["data-platform"] == "shopify"
        assert attributes["data-shop"] == "{{ shop.permanent_domain }}"
        assert "request.locale.iso_code" in attributes["data-locale"]
        assert attributes["data-colour"] == "{{ block.settings.colour }}"  # the owner's choice

    def test_every_file_names_vafa_by_the_one_placeholder(self) -> None:
        for path in SHOPIFY.rglob("*"):
            if path.is_file():
                hosts = set(re.findall(r"https://([\w.-]+)", path.read_text()))
                hosts -= {"shopify.dev"}  # a documentation link
                assert hosts <= {urlsplit(PLACEHOLDER).hostname}, (path, hosts)
