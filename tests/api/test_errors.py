"""Every answer that is not a success has the error shape, and the API documents it so."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from app.api.errors import is_database_busy
from tests.conftest import ShopifyShop


def _is_error_shape(body: Any, code: str) -> bool:
    return (
        set(body) == {"error"}
        and body["error"]["code"] == code
        and isinstance(body["error"]["message"], str)
        and body["error"]["message"] != ""
    )


class TestErrorShape:
    async def test_an_unknown_path_is_a_404_in_the_error_shape(
        self, client: httpx.AsyncClient
    ) -> None:
        for path in ["/nothing-here", "/api/v1/nothing-here"]:
            r = await client.get(path)
            assert r.status_code == 404
            assert r.headers["content-type"] == "application/json"
            assert _is_error_shape(r.json(), "not_found")
            assert path in r.json()["error"]["message"]

    async def test_a_wrong_method_is_a_405_in_the_error_shape_with_allow(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.delete("/api/v1/members/42", headers=shopify_shop.auth)
        assert r.status_code == 405
        assert _is_error_shape(r.json(), "method_not_allowed")
        assert r.headers["allow"] == "GET"
        r = await client.get("/webhooks/shopify")
        assert r.status_code == 405
        assert _is_error_shape(r.json(), "method_not_allowed")

    async def test_a_body_that_is_not_json_is_a_422_in_the_error_shape(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.post(
            "/api/v1/members/9/adjustments",
            content=b"{not json",
            headers={**shopify_shop.auth, "content-type": "application/json"},
        )
        assert r.status_code == 422
        assert _is_error_shape(r.json(), "validation_error")


class TestDatabaseBusy:
    def test_pool_exhaustion_and_a_full_server_count_as_busy(self) -> None:
        # What SQLAlchemy raises when asyncpg is refused a connection (max_connections or a
        # role's connection limit, SQLSTATE 53300), wrapped as its dialect wraps it.
        refused = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
        wrapped = DBAPIError(None, None, AsyncAdapt_asyncpg_dbapi.Error(str(refused), refused))
        assert is_database_busy(refused)
        assert is_database_busy(wrapped)
        other = asyncpg.exceptions.UniqueViolationError("duplicate key")
        assert not is_database_busy(
            DBAPIError(None, None, AsyncAdapt_asyncpg_dbapi.Error(str(other), other))
        )
        assert not is_database_busy(ValueError("no"))


class TestOpenAPI:
    async def _spec(self, client: httpx.AsyncClient) -> dict[str, Any]:
        r = await client.get("/openapi.json")
        assert r.status_code == 200
        spec: dict[str, Any] = r.json()
        return spec

    async def test_the_admin_routes_document_the_bearer_scheme(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = await self._spec(client)
        assert spec["components"]["securitySchemes"]["AdminKey"] == {
            "type": "http",
            "scheme": "bearer",
            "description": spec["components"]["securitySchemes"]["AdminKey"]["description"],
        }
        admin = [(p, ops) for p, ops in spec["paths"].items() if p.startswith("/api/")]
        # members: 3 paths; rewards and redemptions: 4; program: 2; referrals: 5
        assert len(admin) == 14
        for _, operations in admin:
            for operation in operations.values():
                assert operation["security"] == [{"AdminKey": []}]
                assert operation["summary"]
        assert "security" not in spec["paths"]["/webhooks/shopify"]["post"]

    async def test_each_route_documents_its_errors_with_the_error_schema(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = await self._spec(client)
        adjust = spec["paths"]["/api/v1/members/{customer_id}/adjustments"]["post"]["responses"]
        assert {"400", "401", "409", "413", "422", "503"} <= set(adjust)
        member = spec["paths"]["/api/v1/members/{customer_id}"]["get"]["responses"]
        assert {"401", "404", "422", "503"} <= set(member)
        examples = adjust["409"]["content"]["application/json"]["examples"]
        assert set(examples) == {"idempotency_conflict", "insufficient_points"}
        assert adjust["503"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        # Every error answer of every route, webhooks included, has the one error schema.
        for path, operations in spec["paths"].items():
            for operation in operations.values():
                for status, answer in operation["responses"].items():
                    if int(status) >= 400:
                        schema = answer["content"]["application/json"]["schema"]
                        assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, status)
        assert "HTTPValidationError" not in spec["components"]["schemas"]

    async def test_the_adjustment_body_documents_its_bounds_and_an_example(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await self._spec(client))["components"]["schemas"]["AdjustmentIn"]
        assert schema["properties"]["points"]["maximum"] == 10**12
        assert schema["properties"]["points"]["minimum"] == -(10**12)
        assert schema["examples"][0]["points"] == 50


class TestDocsPage:
    async def test_the_docs_page_loads_only_local_assets(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/docs")
        assert r.status_code == 200
        page = r.text
        assert "SwaggerUIBundle" in page
        assert not re.search(r"https?://", page), "the page must work without the internet"
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert len(assets) == 3  # the script, the stylesheet, the icon
        openapi = re.search(r"url: '([^']+)'", page)
        assert openapi is not None
        for url in [*assets, openapi.group(1)]:
            assert url.startswith("/")
            answer = await client.get(url)
            assert answer.status_code == 200, url
            assert len(answer.content) > 0
        assert (await client.get("/redoc")).status_code == 404  # ReDoc's page uses a CDN
