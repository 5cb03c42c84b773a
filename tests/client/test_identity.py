"""The typed client's identity calls: the enrollment secret, rotate_token, revoke_tokens and
a client made with an operator token."""

from __future__ import annotations

import agentmail_client as am
import pytest
from conftest import OPERATOR_TOKEN, running_server

SECRET = "client-enrollment-secret"


async def test_enrollment_rotation_revocation_and_the_operator(tmp_path) -> None:
    async with (
        running_server(tmp_path / "data", archive=False, enrollment_secret=SECRET) as server,
        am.AgentmailClient(server.address) as stranger,
        am.AgentmailClient(server.address, enrollment_secret=SECRET) as alice,
        am.AgentmailClient(server.address, token=OPERATOR_TOKEN) as operator,
    ):
        with pytest.raises(am.Unauthenticated) as refused:
            await stranger.ensure_project("/client/identity")
        assert refused.value.reason == "ENROLLMENT_REQUIRED"
        slug = (await alice.ensure_project("/client/identity")).project.slug
        first = (await alice.register_agent(slug, "Alice")).token
        assert SECRET not in repr(alice)

        second = await alice.rotate_token(overlap_seconds=0)

        assert alice.token == second != first
        await alice.list_inbox()
        with pytest.raises(am.Unauthenticated):
            await alice.with_token(first).list_inbox()
        with pytest.raises(am.PermissionDenied) as not_agent:
            await operator.rotate_token()
        assert not_agent.value.reason == "OPERATOR_NOT_AGENT"
        with pytest.raises(am.PermissionDenied) as no_mail:
            await operator.list_inbox()
        assert no_mail.value.reason == "OPERATOR_CANNOT_READ_MAIL"
        with pytest.raises(am.PermissionDenied) as not_operator:
            await alice.revoke_tokens(slug, "Alice")
        assert not_operator.value.reason == "OPERATOR_REQUIRED"

        retired = await operator.retire_agent(project=slug, name="Alice")
        assert retired.retired
        revoked = await operator.revoke_tokens(slug, "alice", issue_new_token=True)

        assert revoked.revoked == 1 and revoked.token is not None
        assert revoked.token not in repr(revoked)
        with pytest.raises(am.Unauthenticated):
            await alice.list_inbox()
        assert [p.slug for p in await operator.list_projects()] == [slug]
        assert (await alice.with_token(revoked.token).get_agent(slug, "Alice")).retired
