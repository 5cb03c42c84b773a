"""The policy matrix: each policy x contact state (none, pending, approved, expired, blocked)
x thread participation x overlapping reservation x retired recipient, judged on a real send.

Expiry runs on the server's ManualClock: "expired" is an approval of 60 s and a clock moved
61 s on; every case first moves the clock two days on, past the auto window, so an exchange of
mail made while setting up never decides a case by accident.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2
from conftest import rpc_failure

from .conftest import Fleet

OPEN, AUTO, CONTACTS_ONLY, BLOCK_ALL = "open", "auto", "contacts_only", "block_all"
STATES = ("none", "pending", "approved", "expired", "blocked")
REQUIRED, BLOCKED, RETIRED = "CONTACT_REQUIRED", "CONTACT_BLOCKED", "AGENT_RETIRED"
# The outcome for a recipient that is not retired and shares no thread or reservation with
# the sender: None delivers, else the refusal's reason. Written out, not computed.
EXPECTED: dict[tuple[str, str], str | None] = {
    (OPEN, "none"): None,
    (OPEN, "pending"): None,
    (OPEN, "approved"): None,
    (OPEN, "expired"): None,
    (OPEN, "blocked"): BLOCKED,
    (AUTO, "none"): None,  # a first contact: delivered, and it opens an approved link
    (AUTO, "pending"): REQUIRED,
    (AUTO, "approved"): None,
    (AUTO, "expired"): REQUIRED,
    (AUTO, "blocked"): BLOCKED,
    (CONTACTS_ONLY, "none"): REQUIRED,
    (CONTACTS_ONLY, "pending"): REQUIRED,
    (CONTACTS_ONLY, "approved"): None,
    (CONTACTS_ONLY, "expired"): REQUIRED,
    (CONTACTS_ONLY, "blocked"): BLOCKED,
    (BLOCK_ALL, "none"): BLOCKED,
    (BLOCK_ALL, "pending"): BLOCKED,
    (BLOCK_ALL, "approved"): BLOCKED,
    (BLOCK_ALL, "expired"): BLOCKED,
    (BLOCK_ALL, "blocked"): BLOCKED,
}
TWO_DAYS = 2 * 86400


def expected(
    policy: str, state: str, in_thread: bool, retired: bool, reservation: bool
) -> str | None:
    if retired:
        return RETIRED  # a retired agent receives nothing, whatever else holds
    if in_thread or reservation:
        return None  # a thread both take part in, or overlapping reservations, always pass
    return EXPECTED[(policy, state)]


async def set_up_state(fleet: Fleet, ann: Any, ben: Any, state: str) -> None:
    if state == "pending":
        await fleet.request(ann, ben.name, reason="let us talk")
    elif state == "approved":
        await fleet.respond(ben, ann.name, True)
    elif state == "expired":
        await fleet.respond(ben, ann.name, True, ttl_seconds=60)
        fleet.clock.advance(seconds=61)
    elif state == "blocked":
        await fleet.respond(ben, ann.name, False)


@pytest.mark.parametrize(
    "reservation", [False, True], ids=["no-reservation", "overlapping-reservation"]
)
@pytest.mark.parametrize("retired", [False, True], ids=["active", "retired"])
@pytest.mark.parametrize("in_thread", [False, True], ids=["no-thread", "thread"])
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("policy", [OPEN, AUTO, CONTACTS_ONLY, BLOCK_ALL])
async def test_policy_matrix(
    fleet: Fleet, policy: str, state: str, in_thread: bool, retired: bool, reservation: bool
) -> None:
    ann, ben = await fleet.register("Ann"), await fleet.register("Ben")
    thread_id = ""
    if in_thread:
        # Ben speaks in a thread Ann is in (Ann is OPEN for it, so no link is opened).
        await fleet.set_policy(ann, OPEN)
        thread_id = (await fleet.send(ben, ann.name, subject="in thread")).thread_id
    fleet.clock.advance(seconds=TWO_DAYS)
    if reservation:
        await fleet.reserve(ben, "src/app.py")
        await fleet.reserve(ann, "src/**")
    await set_up_state(fleet, ann, ben, state)
    await fleet.set_policy(ben, policy)
    if retired:
        await fleet.agents.RetireAgent(agent_service_pb2.RetireAgentRequest(), metadata=ben.md)
    before = await fleet.inbox_subjects(ben)
    outcome = expected(policy, state, in_thread, retired, reservation)
    call = fleet.send(
        ann, ben.name, subject="the probe", thread_id=thread_id, importance=4, ack_required=True
    )
    if outcome is None:
        await call
        assert await fleet.inbox_subjects(ben) == [*before, "the probe"]
    else:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        failure = rpc_failure(caught.value)
        assert (failure.code, failure.reason) == (grpc.StatusCode.PERMISSION_DENIED, outcome)
        assert failure.metadata["refused"] == f"Ben:{outcome}"
        assert await fleet.inbox_subjects(ben) == before, "nothing was delivered"
