"""Which store URLs a stranger may make Vafa call: the connect's ``store_url`` comes from
anyone, and the callback then calls it. Only ``https://`` on a name whose every address is
public, unless the operator allows private stores (``VAFA_ALLOW_PRIVATE_STORES``)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.errors import InvalidRequest
from app.shops.service import normalize_store_url


class StoreAddressRefused(InvalidRequest):
    code = "store_address_refused"
    example = "https://10.0.0.1 is not a public address: Vafa calls only public stores"


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope id is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global leaves out private, loopback, link-local, reserved and shared (CGNAT) ranges.
    return ip.is_global and not ip.is_multicast


async def checked_store_url(url: str, *, allow_private: bool) -> str:
    """The store URL normalised, or StoreAddressRefused. Without ``allow_private``: https, no
    user:password@, a host name (not an IP literal) that resolves, and only to public
    addresses. (A name can resolve differently later; the callback checks again.)"""
    if "@" in urlsplit(url.strip()).netloc:
        raise StoreAddressRefused("a store URL carries no user name or password")
    normal = normalize_store_url(url)
    if allow_private:
        return normal
    parts = urlsplit(normal)
    host = parts.hostname or ""
    if parts.scheme != "https":
        raise StoreAddressRefused(f"{normal} is not https://: Vafa sends keys over TLS only")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise StoreAddressRefused(f"{normal} is an IP address: give the store's host name")
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise StoreAddressRefused(f"{host} does not resolve to an address") from exc
    addresses = {str(info[4][0]) for info in found}
    if not addresses or not all(_public(a) for a in addresses):
        raise StoreAddressRefused(
            f"{host} resolves to a private, loopback or reserved address: Vafa calls only "
            "public stores"
        )
    return normal
