"""Whatever the certificate files hold, loading them either succeeds or fails with a
``CertificateError`` naming the file (never its content), and the per-handshake fetcher never
raises: it runs in gRPC's threads, where an exception would not reach anyone."""

from __future__ import annotations

import pathlib
import tempfile

import pytest
from agentmail_server.rpc.certificates import (
    CertificateError,
    CertificateFiles,
    ReloadingCertificates,
    load_certificate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._pki import Pki


def _samples() -> tuple[int, bytes, bytes, list[bytes], set[int]]:
    """A real pair (serial, certificate, key), PEM pieces to splice, so that examples reach
    the parsers' deeper paths, and the serials of the pairs those pieces can form (the CA's
    certificate and key are a pair too)."""
    with tempfile.TemporaryDirectory(prefix="am-pem-") as folder:
        pki = Pki(pathlib.Path(folder))
        ca = pki.ca("fuzz CA")
        leaf = pki.server(ca)
        pieces = [leaf.cert_pem, leaf.key_pem, ca.cert_pem, ca.key_pem, b"", b"-----BEGIN"]
        return leaf.serial, leaf.cert_pem, leaf.key_pem, pieces, {leaf.serial, ca.serial}


SERIAL, CERT_PEM, KEY_PEM, PIECES, PAIR_SERIALS = _samples()


def pem_like() -> st.SearchStrategy[bytes]:
    """Random bytes, real PEM files, and cut or concatenated pieces of them."""
    piece = st.sampled_from(PIECES)
    cut = st.tuples(piece, st.integers(0, 2000)).map(lambda pair: pair[0][: pair[1]])
    return st.one_of(
        st.binary(max_size=512),
        piece,
        cut,
        st.lists(st.one_of(piece, cut), max_size=3).map(b"".join),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(cert=pem_like(), key=pem_like(), client_ca=st.one_of(st.none(), pem_like()))
def test_loading_any_files_succeeds_or_names_the_problem(
    tmp_path: pathlib.Path, cert: bytes, key: bytes, client_ca: bytes | None
) -> None:
    files = CertificateFiles(tmp_path / "cert.pem", tmp_path / "key.pem", None)
    files.cert.write_bytes(cert)
    files.key.write_bytes(key)
    if client_ca is not None:
        files = CertificateFiles(files.cert, files.key, tmp_path / "ca.pem")
        files.client_ca.write_bytes(client_ca)  # type: ignore[union-attr]
    try:
        loaded = load_certificate(files)
    except CertificateError as exc:
        assert str(tmp_path) in str(exc)
        assert "PRIVATE KEY" not in str(exc) and "BEGIN" not in str(exc)
    else:
        assert loaded.serial in PAIR_SERIALS  # only a real pair loads


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=100)
@given(cert=pem_like(), key=pem_like())
def test_the_fetcher_never_raises_and_keeps_a_usable_pair(
    tmp_path: pathlib.Path, cert: bytes, key: bytes
) -> None:
    files = CertificateFiles(tmp_path / "cert.pem", tmp_path / "key.pem")
    files.cert.write_bytes(CERT_PEM)
    files.key.write_bytes(KEY_PEM)
    reloader = ReloadingCertificates(files)
    # Replace (new inode), as renewal tools do: the fetcher must notice, then cope.
    for target, data in ((files.cert, cert), (files.key, key)):
        staged = target.with_suffix(".new")
        staged.write_bytes(data)
        staged.replace(target)

    fetched = reloader.fetch()

    try:
        expected: int | None = load_certificate(files).serial
    except CertificateError:
        expected = None  # unusable: the original pair stays, and gRPC is told "no change"
    assert reloader.current.serial == (SERIAL if expected is None else expected)
    assert (fetched is None) == (expected is None)


def test_a_missing_file_at_start_is_a_certificate_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CertificateError, match=r"tls_cert .*cert\.pem: No such file"):
        ReloadingCertificates(CertificateFiles(tmp_path / "cert.pem", tmp_path / "key.pem"))
