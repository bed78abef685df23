"""The groups of Shopify products (PLATFORMS.md S6.5 for the cost): each product's collections,
by handle and numeric id, and its product type, as ``app.program.catalog`` matches them.

One ``nodes(ids:)`` query reads a batch of products with the first :data:`COLLECTIONS_PAGE` of
each one's collections; a product in more collections has the rest read with ``product(id:)``
a page at a time. The batch is sized so that its requested cost (each product 1, its
collections 2 + one per node asked for) stays well inside a bucket of 1,000 points.
"""

from __future__ import annotations

from app.connectors._json import JsonObj, get_str, require_str
from app.connectors.shopify.gid import from_gid
from app.program.catalog import group_key

COLLECTIONS_PAGE = 50
COLLECTIONS_MORE_PAGE = 250
# 10 × (1 + 2 + 50) = 530 points requested, of a standard bucket's 1,000.
PRODUCTS_PER_QUERY = 10

_COLLECTIONS = "nodes { id handle } pageInfo { hasNextPage endCursor }"
PRODUCT_GROUPS_QUERY = f"""
query VafaProductGroups($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Product {{
      id
      productType
      collections(first: {COLLECTIONS_PAGE}) {{ {_COLLECTIONS} }}
    }}
  }}
}}
"""
PRODUCT_COLLECTIONS_QUERY = f"""
query VafaProductCollections($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    collections(first: $first, after: $after) {{ {_COLLECTIONS} }}
  }}
}}
"""


def product_groups(product: JsonObj, collections: list[JsonObj]) -> set[str]:
    """A product's groups from its node and all its collections' nodes."""
    where = "product"
    groups = set()
    for collection in collections:
        groups.add(group_key("collection", from_gid(require_str(collection, "id", where))))
        handle = get_str(collection, "handle", f"{where}.collections")
        if handle:
            groups.add(group_key("collection", handle))
    kind = get_str(product, "productType", where)
    if kind and kind.strip():
        groups.add(group_key("type", kind))
    return groups
