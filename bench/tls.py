"""A throwaway CA and server certificate for a TLS bench server.

Made with the ``cryptography`` library in a folder of the run's scratch space (deleted with it
unless ``--keep-data``), valid for a day, for ``localhost`` and 127.0.0.1 (the bench's server
listens there). Nothing here is printed or logged: the load generators receive only the CA's
certificate (public), the server only the files' paths.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Valid from a little before now (clock skew) for a day: longer than any run.
SKEW = datetime.timedelta(minutes=5)
LIFETIME = datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """What a TLS bench server and its clients need.

    Attributes:
        cert_path: PEM file of the server's certificate followed by the CA's (``--tls-cert``).
        key_path: PEM file of the server's private key (``--tls-key``), mode 0600.
        root_certificates: PEM of the CA's certificate, which clients trust.
    """

    cert_path: pathlib.Path
    key_path: pathlib.Path
    root_certificates: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def make_server_certificate(folder: pathlib.Path) -> TlsFiles:
    """A new CA and a server certificate it signed, written under ``folder`` (created).

    P-256 keys, as in the README's ``openssl`` example and gRPC's usual deployments; the CA's
    key stays in memory only (nothing else is ever signed with it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("agentmail bench CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - SKEW)
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("agentmail bench server"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - SKEW)
        .not_valid_after(now + LIFETIME)
        .add_extension(alt_names, critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = folder / "server.pem"
    key_path = folder / "server-key.pem"
    cert_path.write_bytes(_pem(certificate) + _pem(ca))
    # Created with mode 0600 before the key is written, so it is never readable by others.
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsFiles(cert_path, key_path, _pem(ca))
