"""Operator client certificates: with mTLS, a call without a bearer token whose verified
client certificate has a common name listed in ``operator_cert_names`` is an operator's
(``operator:certificate:<CN>``); another CN gets no rights, and a token, when sent, decides
who calls. ``operator_cert_names`` without ``tls_client_ca`` is refused at start-up."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agentmail_client import (
    AgentmailClient,
    ChannelConfig,
    PermissionDenied,
    TlsConfig,
    Unauthenticated,
)
from agentmail_server.config import ServerConfig

from ._pki import Issued, Pki
from .test_mtls import mtls_settings
from .test_startup import EXIT_BAD_CONFIG, run_to_exit

OPERATOR_CN = "ops-console"
# Listed with spaces around it and beside another: the setting is a comma-separated list.
OPERATOR_CERT_NAMES = f" {OPERATOR_CN} , backup-ops"


@contextlib.asynccontextmanager
async def client_with(
    address: str, ca: Issued, certificate: Issued, token: str | None = None
) -> AsyncIterator[AgentmailClient]:
    """A typed client presenting ``certificate`` (and ``token``, if any)."""
    tls = TlsConfig(
        root_certificates=ca.cert_path,
        client_certificate=certificate.cert_path,
        client_key=certificate.key_path,
    )
    async with AgentmailClient(address, token=token, channel=ChannelConfig(tls=tls)) as client:
        yield client


@pytest.fixture
def operator_cert(pki: Pki, ca: Issued) -> Issued:
    """A client certificate whose CN the server lists in ``operator_cert_names``."""
    return pki.issue(ca, OPERATOR_CN, client=True)


@pytest.fixture
def agent_cert(pki: Pki, ca: Issued) -> Issued:
    """A client certificate of a build host: from the CA, but not an operator's CN."""
    return pki.issue(ca, "build-box", client=True)


@pytest.fixture
async def mtls_server(
    tmp_path: pathlib.Path, start_server: Any, ca: Issued, server_cert: Issued
) -> AsyncIterator[Any]:
    """A server requiring client certificates and listing the operator's CN (and no
    operator token: the certificate alone must do)."""
    async with start_server(
        tmp_path / "data",
        archive=False,
        operator_token_hashes="",
        operator_cert_names=OPERATOR_CERT_NAMES,
        **mtls_settings(server_cert, ca),
    ) as server:
        yield server


@pytest.fixture
async def world(mtls_server: Any, ca: Issued, agent_cert: Issued) -> dict[str, Any]:
    """Two projects, Alice in the first (holding a reservation), Olga in the second."""
    async with client_with(mtls_server.address, ca, agent_cert) as anonymous:
        first = (await anonymous.ensure_project("/srv/first")).project.slug
        second = (await anonymous.ensure_project("/srv/second")).project.slug
        alice = await anonymous.with_token(None).register_agent(first, "Alice")
        olga = await anonymous.with_token(None).register_agent(second, "Olga")
        held = await anonymous.with_token(alice.token).reserve_paths("src/**")
    return {
        "first": first,
        "second": second,
        "alice": alice.token,
        "olga": olga.token,
        "reservation_id": held.granted[0].id,
    }


async def test_a_listed_certificate_administers_every_project(
    mtls_server: Any, ca: Issued, operator_cert: Issued, world: dict[str, Any]
) -> None:
    async with client_with(mtls_server.address, ca, operator_cert) as operator:
        projects = await operator.list_projects()
        revoked = await operator.revoke_tokens(world["second"], "Olga")
        released = await operator.force_release_reservation(
            world["reservation_id"], reason="host wiped", project=world["first"]
        )

    assert [p.slug for p in projects] == [world["first"], world["second"]]
    assert revoked.revoked >= 1
    assert released.reservation.released_by == f"operator:certificate:{OPERATOR_CN}"
    assert (released.reservation.active, released.notice_message_id) == (False, 0)


async def test_a_listed_certificate_cannot_read_mail(
    mtls_server: Any, ca: Issued, operator_cert: Issued, world: dict[str, Any]
) -> None:
    async with client_with(mtls_server.address, ca, operator_cert) as operator:
        with pytest.raises(PermissionDenied) as caught:
            await operator.list_inbox()

    assert caught.value.reason == "OPERATOR_CANNOT_READ_MAIL"


async def test_revoked_by_certificate_means_revoked(
    mtls_server: Any, ca: Issued, operator_cert: Issued, agent_cert: Issued, world: dict[str, Any]
) -> None:
    async with client_with(mtls_server.address, ca, operator_cert) as operator:
        await operator.revoke_tokens(world["second"], "Olga")
    async with client_with(mtls_server.address, ca, agent_cert, world["olga"]) as olga:
        with pytest.raises(Unauthenticated) as caught:
            await olga.list_inbox()

    assert caught.value.reason == "TOKEN_INVALID"


# Another name, the listed one in another case (names match exactly), and a prefix of it.
@pytest.mark.parametrize("common_name", ["build-box", OPERATOR_CN.upper(), "ops"])
async def test_an_unlisted_certificate_gets_no_operator_rights(
    mtls_server: Any, ca: Issued, pki: Pki, world: dict[str, Any], common_name: str
) -> None:
    unlisted = pki.issue(ca, common_name, client=True, file_name=f"unlisted-{common_name}")
    async with client_with(mtls_server.address, ca, unlisted) as anonymous:
        with pytest.raises(Unauthenticated) as listing:
            await anonymous.list_projects()
        with pytest.raises(Unauthenticated) as revoking:
            await anonymous.revoke_tokens(world["second"], "Olga")

    assert listing.value.reason == revoking.value.reason == "TOKEN_MISSING"


async def test_a_token_wins_over_an_operators_certificate(
    mtls_server: Any, ca: Issued, operator_cert: Issued, world: dict[str, Any]
) -> None:
    async with client_with(mtls_server.address, ca, operator_cert, world["alice"]) as alice:
        projects = await alice.list_projects()
        inbox = await alice.list_inbox()
        with pytest.raises(PermissionDenied) as revoking:
            await alice.revoke_tokens(world["second"], "Olga")
        with pytest.raises(Unauthenticated) as bogus:
            await alice.with_token("am_" + "x" * 43).list_projects()

    assert [p.slug for p in projects] == [world["first"]]
    assert inbox.items == ()
    assert revoking.value.reason == "OPERATOR_REQUIRED"
    assert bogus.value.reason == "TOKEN_INVALID"


async def test_a_listed_certificate_enrolls_without_the_secret(
    tmp_path: pathlib.Path, start_server: Any, ca: Issued, server_cert: Issued, pki: Pki
) -> None:
    operator_cert = pki.issue(ca, OPERATOR_CN, client=True)
    other = pki.issue(ca, "build-box", client=True)
    async with start_server(
        tmp_path / "data",
        archive=False,
        enrollment_secret="enroll-secret",
        operator_cert_names=OPERATOR_CN,
        **mtls_settings(server_cert, ca),
    ) as server:
        async with client_with(server.address, ca, operator_cert) as operator:
            ensured = await operator.ensure_project("/srv/enrolled")
        async with client_with(server.address, ca, other) as anonymous:
            with pytest.raises(Unauthenticated) as refused:
                await anonymous.ensure_project("/srv/refused")

    assert ensured.created
    assert refused.value.reason == "ENROLLMENT_REQUIRED"


def test_operator_cert_names_without_a_client_ca_is_refused() -> None:
    with pytest.raises(ValueError, match=r"operator_cert_names .* needs tls_client_ca"):
        ServerConfig(operator_cert_names=OPERATOR_CN)


def test_operator_cert_names_is_a_comma_separated_list() -> None:
    config = ServerConfig(
        tls_cert="c.pem", tls_key="k.pem", tls_client_ca="ca.pem", operator_cert_names=" a, ,b "
    )

    assert config.operator_certificate_names == frozenset({"a", "b"})
    assert ServerConfig(operator_cert_names=" , ").operator_certificate_names == frozenset()


async def test_operator_cert_names_without_a_client_ca_stops_the_start_in_one_line(
    tmp_path: pathlib.Path, server_cert: Issued
) -> None:
    code, lines = await run_to_exit(
        tmp_path / "data",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        str(server_cert.cert_path),
        "--tls-key",
        str(server_cert.key_path),
        "--operator-cert-names",
        OPERATOR_CN,
    )

    assert code == EXIT_BAD_CONFIG
    assert len(lines) == 1 and "operator_cert_names" in lines[0], lines
    assert "needs tls_client_ca" in lines[0], lines
