"""How the server secures its listening port, chosen from the configuration.

- ``tls_cert``/``tls_key`` set: TLS, with the certificate re-read when its files change, and
  client certificates required and verified when ``tls_client_ca`` is set (mTLS).
- Otherwise, a ``unix:`` socket or a loopback address: gRPC's *local* credentials. They add no
  encryption and no handshake bytes (plaintext clients connect as before: measured with
  grpcio 1.85, ``grpc.aio.insecure_channel`` and ``grpc.local_channel_credentials`` both work),
  but gRPC checks that each peer really is local and marks the connection ``local`` in the
  call's auth context, and clients may use ``local_channel_credentials`` to attach call
  credentials (a bearer token), which gRPC refuses on a plain insecure channel.
- Otherwise (an address other hosts can reach, allowed only with ``insecure``): plaintext,
  with a warning at start-up.
"""

from __future__ import annotations

import dataclasses
import enum
import pathlib

import grpc

from agentmail_server.config import ServerConfig
from agentmail_server.listen import is_loopback, is_unix_socket
from agentmail_server.rpc.certificates import CertificateFiles, ReloadingCertificates


class ListenSecurity(enum.Enum):
    """What protects the listening port."""

    TLS = "tls"
    MUTUAL_TLS = "mtls"
    LOCAL = "local"
    PLAINTEXT = "plaintext"


@dataclasses.dataclass(frozen=True)
class ListenCredentials:
    """The port's credentials and what they mean.

    Attributes:
        security: what protects the port.
        credentials: gRPC server credentials, or None for a plaintext port.
        certificates: the reloading certificate behind TLS, or None.
    """

    security: ListenSecurity
    credentials: grpc.ServerCredentials | None
    certificates: ReloadingCertificates | None = None


def listen_credentials(config: ServerConfig) -> ListenCredentials:
    """The credentials for ``config.listen`` (see the module docstring).

    Raises:
        CertificateError: TLS is configured but its files cannot be used.
    """
    if config.tls_enabled:
        files = CertificateFiles(
            cert=pathlib.Path(config.tls_cert),
            key=pathlib.Path(config.tls_key),
            client_ca=pathlib.Path(config.tls_client_ca) if config.tls_client_ca else None,
        )
        certificates = ReloadingCertificates(files)
        security = ListenSecurity.MUTUAL_TLS if files.client_ca else ListenSecurity.TLS
        return ListenCredentials(security, certificates.credentials(), certificates)
    if is_unix_socket(config.listen):
        local = grpc.local_server_credentials(grpc.LocalConnectionType.UDS)
        return ListenCredentials(ListenSecurity.LOCAL, local)
    if is_loopback(config.listen):
        local = grpc.local_server_credentials(grpc.LocalConnectionType.LOCAL_TCP)
        return ListenCredentials(ListenSecurity.LOCAL, local)
    return ListenCredentials(ListenSecurity.PLAINTEXT, None)
