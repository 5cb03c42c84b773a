"""Reading what a call carries from its servicer context: metadata, and who is calling on
what kind of connection (gRPC's auth context)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping

import grpc


def metadata_value(context: grpc.aio.ServicerContext[object, object], key: str) -> str | None:
    """The first value of metadata ``key`` (lower-case) sent with the call, or None."""
    for item in context.invocation_metadata() or ():
        if item[0] == key:
            value = item[1]
            return value.decode() if isinstance(value, bytes) else value
    return None


def authorization(context: grpc.aio.ServicerContext[object, object]) -> str | None:
    """The call's ``authorization`` metadata value, or None."""
    return metadata_value(context, "authorization")


class PeerTransport(enum.Enum):
    """What protected the connection a call came on (from gRPC's auth context)."""

    TLS = "ssl"
    """TLS; :func:`peer_identity` says whether a client certificate was verified."""
    LOCAL = "local"
    """A loopback or Unix-domain connection on a port with local credentials."""
    PLAINTEXT = "insecure"
    """Neither: a plaintext port (``--insecure``)."""


@dataclasses.dataclass(frozen=True)
class PeerIdentity:
    """Who a verified client certificate says the caller is (mTLS).

    Later authorisation maps it to an operator or an agent; nothing here decides that.

    Attributes:
        common_name: The subject's CN ("" when the certificate has none).
        subject: The whole subject, RFC 4514 style as gRPC renders it (``CN=alice,O=acme``).
        dns_names: The subjectAltName DNS entries.
        uris: The subjectAltName URI entries (``spiffe://...``).
        emails: The subjectAltName email entries.
        ip_addresses: The subjectAltName IP address entries.
    """

    common_name: str
    subject: str
    dns_names: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()


def _values(auth: Mapping[str, Iterable[bytes]], key: str) -> tuple[str, ...]:
    return tuple(value.decode(errors="replace") for value in auth.get(key, ()))


def peer_transport(context: grpc.aio.ServicerContext[object, object]) -> PeerTransport:
    """How the call's connection was protected."""
    kinds = _values(context.auth_context(), "transport_security_type")
    for transport in PeerTransport:
        if transport.value in kinds:
            return transport
    return PeerTransport.PLAINTEXT


def peer_identity(context: grpc.aio.ServicerContext[object, object]) -> PeerIdentity | None:
    """The identity proved by the caller's client certificate, or None without one.

    Only a verified certificate is reported: the server asks for client certificates only with
    ``tls_client_ca`` set, and then requires them and checks them against that CA before any
    handler runs (gRPC's Python server has no "ask but do not verify" mode).
    """
    auth = context.auth_context()
    if "ssl" not in _values(auth, "transport_security_type"):
        return None
    subject = _values(auth, "x509_subject")
    names = _values(auth, "x509_common_name")
    if not subject and not names:
        return None
    return PeerIdentity(
        common_name=names[0] if names else "",
        subject=subject[0] if subject else "",
        dns_names=_values(auth, "peer_dns"),
        uris=_values(auth, "peer_uri"),
        emails=_values(auth, "peer_email"),
        ip_addresses=_values(auth, "peer_ip"),
    )
