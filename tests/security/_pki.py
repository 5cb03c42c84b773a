"""A throwaway public-key infrastructure for tests: CAs and certificates made with the
``cryptography`` library, written as PEM files into a test's temporary folder."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Certificates are valid from a little before now (clock skew) for a day.
SKEW = datetime.timedelta(minutes=5)
LIFETIME = datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Issued:
    """A certificate and its key, in memory and as PEM files.

    Attributes:
        certificate: the certificate.
        key: its private key.
        cert_path: PEM file of the certificate (followed by its issuer's, for a leaf).
        key_path: PEM file of the private key.
    """

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: pathlib.Path
    key_path: pathlib.Path

    @property
    def serial(self) -> int:
        """The certificate's serial number."""
        return self.certificate.serial_number

    @property
    def cert_pem(self) -> bytes:
        """The certificate file's content."""
        return self.cert_path.read_bytes()

    @property
    def key_pem(self) -> bytes:
        """The key file's content."""
        return self.key_path.read_bytes()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class Pki:
    """Makes CAs and the certificates they issue, as files under ``folder``."""

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _write(
        self, name: str, certificates: list[x509.Certificate], key: ec.EllipticCurvePrivateKey
    ) -> tuple[pathlib.Path, pathlib.Path]:
        cert_path = self.folder / f"{name}.pem"
        key_path = self.folder / f"{name}-key.pem"
        cert_path.write_bytes(b"".join(_cert_pem(c) for c in certificates))
        key_path.write_bytes(_key_pem(key))
        key_path.chmod(0o600)
        return cert_path, key_path

    def ca(self, name: str) -> Issued:
        """A self-signed CA certificate whose common name is ``name``."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - SKEW)
            .not_valid_after(now + LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        cert_path, key_path = self._write(name, [certificate], key)
        return Issued(certificate, key, cert_path, key_path)

    def issue(
        self,
        ca: Issued,
        name: str,
        *,
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        uris: tuple[str, ...] = (),
        client: bool = False,
        file_name: str | None = None,
    ) -> Issued:
        """A certificate signed by ``ca`` with common name ``name`` and the given
        subjectAltNames, for a server (the default) or a client; its file holds the chain."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - SKEW)
            .not_valid_after(now + LIFETIME)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        alt_names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        alt_names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        alt_names += [x509.UniformResourceIdentifier(u) for u in uris]
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        certificate = builder.sign(ca.key, hashes.SHA256())
        cert_path, key_path = self._write(file_name or name, [certificate, ca.certificate], key)
        return Issued(certificate, key, cert_path, key_path)

    def server(
        self, ca: Issued, name: str = "agentmail-server", *, file_name: str | None = None
    ) -> Issued:
        """A server certificate for ``localhost`` and 127.0.0.1 (and ``name`` as DNS name)."""
        return self.issue(
            ca, name, dns=(name, "localhost"), ips=("127.0.0.1",), file_name=file_name
        )
