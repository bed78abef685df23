"""The admin API's bearer key: it names its shop, so every query that follows is scoped to it.

The key is checked by the admin routes themselves before any of the body is read
(:class:`app.api.routing.AdminRoute`); ``bearer`` only documents the scheme in OpenAPI.
"""

from __future__ import annotations

from fastapi.security import HTTPBearer

from app.errors import Unauthorized
from app.shops.service import ShopContext, ShopDirectory

bearer = HTTPBearer(
    scheme_name="AdminKey",
    description="The shop's admin API key (`vafa_sk_…`), shown once by `vafa shop add-…`.",
    auto_error=False,
)


async def authenticate(shops: ShopDirectory, authorization: str | None) -> ShopContext:
    """The shop whose admin API key the ``Authorization`` header carries."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send the shop's admin API key as 'Authorization: Bearer <key>'")
    shop = await shops.by_admin_key(key.strip())
    if shop is None:
        raise Unauthorized("the admin API key is not valid")
    return shop
