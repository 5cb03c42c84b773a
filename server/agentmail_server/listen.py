"""What kind of place a listen address is: a Unix-domain socket, this host only (loopback), or
reachable from other hosts.

The server refuses to serve plaintext on an address other hosts can reach (see
``ServerConfig``), so the answer errs towards "reachable": only IP literals in the loopback
ranges, the name ``localhost`` and ``unix:`` sockets count as local. Any other host name is
treated as reachable without resolving it: resolution happens at bind time, can change later,
and a configuration check must not block on DNS.
"""

from __future__ import annotations

import ipaddress

# gRPC's Unix-domain socket schemes (a path, or a name in the abstract namespace).
UNIX_PREFIXES = ("unix:", "unix-abstract:")


def is_unix_socket(listen: str) -> bool:
    """Whether ``listen`` names a Unix-domain socket (``unix:/run/agentmail.sock``)."""
    return listen.startswith(UNIX_PREFIXES)


def listen_host(listen: str) -> str:
    """The host part of ``host:port``, without the brackets of an IPv6 literal."""
    host, _, _ = listen.rpartition(":")
    return host.removeprefix("[").removesuffix("]")


def is_loopback(listen: str) -> bool:
    """Whether only this host can connect to ``listen``: a Unix-domain socket, ``localhost``,
    or an IP literal in 127.0.0.0/8 or ``::1`` (also as an IPv4-mapped IPv6 address).

    An empty host, ``0.0.0.0``, ``::``, a LAN address and any other host name are reachable.
    """
    if is_unix_socket(listen):
        return True
    host = listen_host(listen)
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
