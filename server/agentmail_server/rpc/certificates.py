"""The server's TLS certificate, read from PEM files and re-read when they change, so that a
renewed certificate takes effect without a restart.

gRPC calls the fetcher (:meth:`ReloadingCertificates.fetch`) in its own thread before every
TLS handshake, and uses what it returns (or keeps the current configuration for None). A
handshake must stay cheap, so the fetcher only ``stat``s the files and reads them when their
inode, size or times changed. A changed pair that cannot be used (a key that is not the
certificate's, a half-written file, an encrypted key) is refused with a warning and the
previous pair stays in service; it is tried again when the files change again, so a rotation
that writes the certificate and the key one after the other settles on the new pair. Log lines
name files and certificates, never key material.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import threading

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

logger = logging.getLogger(__name__)

# What identifies a version of one file: inode, size, modification and change times (ns).
FileStamp = tuple[int, int, int, int] | None


class CertificateError(ValueError):
    """A certificate, key or CA file cannot be used; the message names the file, not its
    content."""


@dataclasses.dataclass(frozen=True)
class CertificateFiles:
    """Where the server's TLS material lives.

    Attributes:
        cert: PEM certificate chain, the server's own certificate first.
        key: PEM private key of that certificate (unencrypted).
        client_ca: PEM CA certificates that client certificates must chain to (mTLS), or None.
    """

    cert: pathlib.Path
    key: pathlib.Path
    client_ca: pathlib.Path | None = None

    def paths(self) -> tuple[pathlib.Path, ...]:
        """The files, in a fixed order."""
        return tuple(path for path in (self.cert, self.key, self.client_ca) if path is not None)

    def stamps(self) -> tuple[FileStamp, ...]:
        """Each file's version (None for a file that cannot be stat'ed): cheap, no reading."""
        return tuple(_stamp(path) for path in self.paths())


@dataclasses.dataclass(frozen=True)
class LoadedCertificate:
    """A usable pair, ready for gRPC, and what to log about it."""

    configuration: grpc.ServerCertificateConfiguration
    subject: str
    serial: int
    not_after: str
    not_after_timestamp: float


@dataclasses.dataclass(frozen=True)
class CertificateStats:
    """What the reloader did since start.

    Attributes:
        reloads: New pairs taken into service after a change of the files.
        rejected: Changes refused because the new files could not be used.
        serial: Serial number of the certificate in service.
        not_after_timestamp: When the certificate in service expires (seconds since the epoch).
    """

    reloads: int
    rejected: int
    serial: int
    not_after_timestamp: float


def _stamp(path: pathlib.Path) -> FileStamp:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _read(path: pathlib.Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{what} {path}: {exc.strerror or exc}") from None


def _certificates(data: bytes, path: pathlib.Path, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateError(f"{what} {path}: no PEM certificate in it") from None
    return certificates


def _public_key_bytes(public: PublicKeyTypes) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_certificate(files: CertificateFiles) -> LoadedCertificate:
    """Read and check the files: a certificate chain, the private key of its first
    certificate, and (for mTLS) at least one CA certificate.

    Raises:
        CertificateError: a file is unreadable, holds no PEM of the right kind, the key is
            encrypted, or the key does not belong to the certificate.
    """
    chain_pem = _read(files.cert, "tls_cert")
    key_pem = _read(files.key, "tls_key")
    chain = _certificates(chain_pem, files.cert, "tls_cert")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CertificateError(f"tls_key {files.key}: the key is encrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(f"tls_key {files.key}: no usable PEM private key in it") from None
    leaf = chain[0]
    if _public_key_bytes(key.public_key()) != _public_key_bytes(leaf.public_key()):
        raise CertificateError(
            f"tls_key {files.key} is not the key of the certificate in tls_cert {files.cert}"
        )
    client_ca_pem = None
    if files.client_ca is not None:
        client_ca_pem = _read(files.client_ca, "tls_client_ca")
        _certificates(client_ca_pem, files.client_ca, "tls_client_ca")
    configuration = grpc.ssl_server_certificate_configuration(
        [(key_pem, chain_pem)], root_certificates=client_ca_pem
    )
    return LoadedCertificate(
        configuration=configuration,
        subject=leaf.subject.rfc4514_string(),
        serial=leaf.serial_number,
        not_after=leaf.not_valid_after_utc.isoformat(),
        not_after_timestamp=leaf.not_valid_after_utc.timestamp(),
    )


class ReloadingCertificates:
    """The certificate in service, replaced when its files change (see the module docstring).

    Args:
        files: where the certificate, key and optional client CA live.

    Raises:
        CertificateError: the files cannot be used at start: the server must not start.
    """

    def __init__(self, files: CertificateFiles) -> None:
        self.files = files
        # fetch() runs in gRPC's handshake threads, possibly several at once.
        self._lock = threading.Lock()
        self._stamps = files.stamps()
        self.current = load_certificate(files)
        # Replaced whole under the lock, read without it: stats() never waits for a reload.
        self._stats = CertificateStats(0, 0, self.current.serial, self.current.not_after_timestamp)

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that serve the current certificate and follow its files.

        With a client CA every client must present a certificate that chains to it: gRPC's
        Python server either requires and verifies client certificates or does not ask for
        them, so a certificate it reports is always a verified one.
        """
        return grpc.dynamic_ssl_server_credentials(
            self.current.configuration,
            # types-grpcio omits the None that gRPC documents (and we return): keep the current.
            self.fetch,  # type: ignore[arg-type]
            require_client_authentication=self.files.client_ca is not None,
        )

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """gRPC's per-handshake callback: a new configuration when the files changed and are
        usable, else None (keep the current one). Never raises."""
        stamps = self.files.stamps()
        with self._lock:
            if stamps == self._stamps:
                return None
            self._stamps = stamps
            try:
                loaded = load_certificate(self.files)
            except CertificateError as exc:
                self._stats = dataclasses.replace(self._stats, rejected=self._stats.rejected + 1)
                logger.warning(
                    "TLS files changed but cannot be used (%s); still serving %s serial %x",
                    exc,
                    self.current.subject,
                    self.current.serial,
                )
                return None
            self.current = loaded
            self._stats = dataclasses.replace(
                self._stats,
                reloads=self._stats.reloads + 1,
                serial=loaded.serial,
                not_after_timestamp=loaded.not_after_timestamp,
            )
        logger.info(
            "TLS certificate reloaded: %s serial %x, valid until %s",
            loaded.subject,
            loaded.serial,
            loaded.not_after,
        )
        return loaded.configuration

    def stats(self) -> CertificateStats:
        """A snapshot of what the reloader did (never blocks)."""
        return self._stats
