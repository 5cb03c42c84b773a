"""The authorisation matrix: every RPC of every agentmail service, called as each kind of
caller, ends as the table in ``rpc/authorization.py`` says.

Methods are discovered from the served descriptors, so an RPC added without a rule in
``RULES`` and a row in ``EXPECTED`` fails here. The server has an enrollment secret, so the
ENROLLMENT rule is exercised (without one, those calls are open, as tested elsewhere). An
operator's client certificate (mTLS, ``operator_cert_names``) gets the operator's column.
"""

from __future__ import annotations

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import (
    agent_service_pb2_grpc,
    mail_service_pb2,
    reservation_service_pb2,
    reservation_service_pb2_grpc,
    search_service_pb2,
    types_pb2,
)
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import receipts_pb2 as rpb
from agentmail.v1 import reservation_service_pb2 as vpb
from agentmail.v1 import search_service_pb2 as spb
from agentmail_server.rpc.authorization import RULES
from conftest import OPERATOR_MD, md, open_channel, running_server
from google.protobuf import field_mask_pb2

from ._pki import Issued, Pki

SECRET = "enroll-matrix-secret"
ENROLL = (("x-agentmail-enrollment", SECRET),)
CALLERS = ("none", "bogus", "self", "peer", "outsider", "operator")

OK = "OK"
UNAUTH = "UNAUTHENTICATED"
DENIED = "PERMISSION_DENIED"
MISSING = "NOT_FOUND"

# method -> the status each caller gets, in CALLERS order: no token, a well-formed unknown
# token, the agent the request is about (Alice), another agent of her project (Bob), an agent
# of another project (Olga), and the operator. The mail is Carol's to Alice: Bob and Olga may
# not see it (NOT_FOUND, as if it did not exist).
EXPECTED: dict[str, tuple[str, ...]] = {
    "AgentService/EnsureProject": (UNAUTH, UNAUTH, OK, OK, UNAUTH, OK),
    "AgentService/GetProject": (UNAUTH, UNAUTH, OK, OK, MISSING, OK),
    "AgentService/ListProjects": (UNAUTH, UNAUTH, OK, OK, OK, OK),
    "AgentService/RegisterAgent": (UNAUTH, UNAUTH, OK, DENIED, DENIED, "ALREADY_EXISTS"),
    "AgentService/GetAgent": (UNAUTH, UNAUTH, OK, OK, MISSING, OK),
    "AgentService/ListAgents": (UNAUTH, UNAUTH, OK, OK, MISSING, OK),
    "AgentService/UpdateAgent": (UNAUTH, UNAUTH, OK, DENIED, DENIED, DENIED),
    "AgentService/SetContactPolicy": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "AgentService/RequestContact": (UNAUTH, UNAUTH, OK, OK, MISSING, DENIED),
    "AgentService/RespondContact": (UNAUTH, UNAUTH, OK, OK, MISSING, DENIED),
    "AgentService/ListContacts": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "AgentService/RetireAgent": (UNAUTH, UNAUTH, DENIED, DENIED, DENIED, OK),
    "AgentService/UnretireAgent": (UNAUTH, UNAUTH, DENIED, DENIED, DENIED, OK),
    "AgentService/RotateToken": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "AgentService/RevokeTokens": (UNAUTH, UNAUTH, DENIED, DENIED, DENIED, OK),
    "MailService/SendMessage": (UNAUTH, UNAUTH, OK, OK, MISSING, DENIED),
    # Per-item errors: Olga's call succeeds with Carol's item NOT_FOUND (asserted elsewhere).
    "MailService/SendMessages": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "MailService/ReplyMessage": (UNAUTH, UNAUTH, OK, MISSING, MISSING, DENIED),
    "MailService/GetMessage": (UNAUTH, UNAUTH, OK, MISSING, MISSING, DENIED),
    "MailService/ListInbox": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "MailService/ListOutbox": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "MailService/GetThread": (UNAUTH, UNAUTH, OK, MISSING, MISSING, DENIED),
    "MailService/MarkRead": (UNAUTH, UNAUTH, OK, MISSING, MISSING, DENIED),
    "MailService/AcknowledgeMessage": (UNAUTH, UNAUTH, OK, MISSING, MISSING, DENIED),
    "MailService/SubscribeInbox": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "MailService/SummarizeThread": (UNAUTH, UNAUTH, OK, MISSING, MISSING, DENIED),
    "MailService/ListPendingAcks": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "MailService/ListUnacknowledged": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "SearchService/SearchMessages": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "ReservationService/ReservePaths": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "ReservationService/CheckConflicts": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "ReservationService/RenewReservations": (UNAUTH, UNAUTH, OK, DENIED, MISSING, DENIED),
    "ReservationService/ReleaseReservations": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
    "ReservationService/ForceReleaseReservation": (UNAUTH, UNAUTH, OK, OK, MISSING, OK),
    "ReservationService/ListReservations": (UNAUTH, UNAUTH, OK, OK, OK, DENIED),
}

# The ErrorInfo reason an operator's refusal carries, by rule.
OPERATOR_REASONS = {"agent": "OPERATOR_NOT_AGENT", "mail": "OPERATOR_CANNOT_READ_MAIL"}


def served_methods() -> list[str]:
    """``Service/Method`` of every RPC of our three services, from their descriptors."""
    found = []
    for module, name in (
        (apb, "AgentService"),
        (mail_service_pb2, "MailService"),
        (search_service_pb2, "SearchService"),
        (reservation_service_pb2, "ReservationService"),
    ):
        service = module.DESCRIPTOR.services_by_name[name]
        found.extend(f"{name}/{method.name}" for method in service.methods)
    return found


def test_every_rpc_has_a_rule_and_a_row() -> None:
    methods = served_methods()
    assert sorted(f"/agentmail.v1.{m}" for m in methods) == sorted(RULES)
    assert sorted(methods) == sorted(EXPECTED)


def request_for(method: str, world: dict[str, object]):
    """A request about Alice that her own token makes succeed."""
    message_id = world["message_id"]
    thread = world["thread_id"]
    project = world["project"]
    return {
        "AgentService/EnsureProject": lambda: apb.EnsureProjectRequest(human_key="/matrix/p"),
        "AgentService/GetProject": lambda: apb.GetProjectRequest(slug=project),
        "AgentService/ListProjects": apb.ListProjectsRequest,
        "AgentService/RegisterAgent": lambda: apb.RegisterAgentRequest(
            project=project, name="Alice"
        ),
        "AgentService/GetAgent": lambda: apb.GetAgentRequest(project=project, name="Alice"),
        "AgentService/ListAgents": lambda: apb.ListAgentsRequest(project=project),
        "AgentService/UpdateAgent": lambda: apb.UpdateAgentRequest(
            agent=types_pb2.Agent(project=project, name="Alice", program="p"),
            update_mask=field_mask_pb2.FieldMask(paths=["program"]),
        ),
        "AgentService/SetContactPolicy": lambda: apb.SetContactPolicyRequest(
            policy=types_pb2.CONTACT_POLICY_AUTO
        ),
        "AgentService/RequestContact": lambda: apb.RequestContactRequest(
            to_agent="Carol", reason="matrix"
        ),
        "AgentService/RespondContact": lambda: apb.RespondContactRequest(
            from_agent="Carol", approve=True
        ),
        "AgentService/ListContacts": apb.ListContactsRequest,
        # About Zed, so that retiring does not change the other rows.
        "AgentService/RetireAgent": lambda: apb.RetireAgentRequest(project=project, name="Zed"),
        "AgentService/UnretireAgent": lambda: apb.UnretireAgentRequest(project=project, name="Zed"),
        # With an overlap: the caller's old token keeps working for the rest of the matrix.
        "AgentService/RotateToken": lambda: apb.RotateTokenRequest(overlap_seconds=3600),
        "AgentService/RevokeTokens": lambda: apb.RevokeTokensRequest(
            project=project, name="Zed", issue_new_token=True
        ),
        "MailService/SendMessage": lambda: mpb.SendMessageRequest(
            to=["Carol"], subject="s", body="b"
        ),
        "MailService/SendMessages": lambda: mpb.SendMessagesRequest(
            messages=[mpb.SendMessageRequest(to=["Carol"], subject="s", body="b")]
        ),
        "MailService/ReplyMessage": lambda: mpb.ReplyMessageRequest(
            message_id=message_id, body="b"
        ),
        "MailService/GetMessage": lambda: mpb.GetMessageRequest(message_id=message_id),
        "MailService/ListInbox": mpb.ListInboxRequest,
        "MailService/ListOutbox": mpb.ListOutboxRequest,
        "MailService/GetThread": lambda: mpb.GetThreadRequest(thread_id=thread),
        "MailService/MarkRead": lambda: mpb.MarkReadRequest(message_ids=[message_id]),
        "MailService/AcknowledgeMessage": lambda: mpb.AcknowledgeMessageRequest(
            message_ids=[message_id]
        ),
        "MailService/SubscribeInbox": mpb.SubscribeInboxRequest,
        "MailService/SummarizeThread": lambda: mpb.SummarizeThreadRequest(thread_id=thread),
        "MailService/ListPendingAcks": rpb.ListPendingAcksRequest,
        "MailService/ListUnacknowledged": rpb.ListUnacknowledgedRequest,
        "SearchService/SearchMessages": lambda: spb.SearchMessagesRequest(query="matrix"),
        "ReservationService/ReservePaths": lambda: vpb.ReservePathsRequest(
            paths=["docs/matrix.md"]
        ),
        "ReservationService/CheckConflicts": lambda: vpb.CheckConflictsRequest(
            paths=["src/matrix.py"]
        ),
        "ReservationService/RenewReservations": lambda: vpb.RenewReservationsRequest(
            ids=[world["reservation_id"]]
        ),
        "ReservationService/ReleaseReservations": lambda: vpb.ReleaseReservationsRequest(
            patterns=["nothing/held.txt"]
        ),
        # Alice's own reservation: she releases it; the rows after her see it released (an
        # operator must name the project; Olga naming it is told it does not exist).
        "ReservationService/ForceReleaseReservation": lambda: vpb.ForceReleaseReservationRequest(
            id=world["reservation_id"], reason="matrix", project=project
        ),
        "ReservationService/ListReservations": vpb.ListReservationsRequest,
    }[method]()


async def call(channel, method: str, request, metadata) -> tuple[str, str]:
    """(status name, ErrorInfo reason) of one call; a stream counts once its first message
    (a heartbeat, at least) arrives."""
    from conftest import rpc_failure  # noqa: PLC0415

    service, name = method.split("/")
    path = f"/agentmail.v1.{service}/{name}"
    response_class = type(request).__name__.removesuffix("Request") + "Response"
    modules = {
        "AgentService": apb,
        "MailService": mpb,
        "SearchService": spb,
        "ReservationService": vpb,
    }
    module = rpb if name in ("ListPendingAcks", "ListUnacknowledged") else modules[service]
    decode = getattr(module, response_class).FromString
    try:
        if name == "SubscribeInbox":
            stream = channel.unary_stream(path, type(request).SerializeToString, decode)(
                request, metadata=metadata, timeout=30
            )
            try:
                await stream.read()
            finally:
                stream.cancel()
        else:
            await channel.unary_unary(path, type(request).SerializeToString, decode)(
                request, metadata=metadata, timeout=30
            )
    except grpc.aio.AioRpcError as error:
        return error.code().name, rpc_failure(error).reason
    return OK, ""


async def seed(channel) -> dict[str, object]:
    agents = agent_service_pb2_grpc.AgentServiceStub(channel)
    from agentmail.v1 import mail_service_pb2_grpc  # noqa: PLC0415

    mail = mail_service_pb2_grpc.MailServiceStub(channel)
    project = (
        await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/matrix/p"), metadata=ENROLL)
    ).project.slug
    other = (
        await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/matrix/q"), metadata=ENROLL)
    ).project.slug
    tokens = {}
    for slug, name in ((project, "Alice"), (project, "Bob"), (project, "Carol"), (project, "Zed")):
        registered = await agents.RegisterAgent(
            apb.RegisterAgentRequest(project=slug, name=name), metadata=ENROLL
        )
        tokens[name] = registered.agent_token
    olga = await agents.RegisterAgent(
        apb.RegisterAgentRequest(project=other, name="Olga"), metadata=ENROLL
    )
    tokens["Olga"] = olga.agent_token
    sent = await mail.SendMessage(
        mpb.SendMessageRequest(to=["Alice"], subject="matrix", body="b", ack_required=True),
        metadata=md(tokens["Carol"]),
    )
    reserved = await reservation_service_pb2_grpc.ReservationServiceStub(channel).ReservePaths(
        vpb.ReservePathsRequest(paths=["src/matrix.py"]), metadata=md(tokens["Alice"])
    )
    return {
        "reservation_id": reserved.granted[0].id,
        "project": project,
        "tokens": tokens,
        "message_id": sent.message.id,
        "thread_id": sent.message.thread_id,
    }


def credentials(caller: str, tokens: dict[str, str]):
    return {
        "none": (),
        "bogus": md("am_" + "x" * 43),
        "self": md(tokens["Alice"]),
        "peer": md(tokens["Bob"]),
        "outsider": md(tokens["Olga"]),
        "operator": OPERATOR_MD,
    }[caller]


async def test_every_rpc_as_every_caller(tmp_path) -> None:
    async with (
        running_server(
            tmp_path / "data", archive=False, enrollment_secret=SECRET, heartbeat_seconds=0.2
        ) as server,
        open_channel(server.address) as channel,
    ):
        world = await seed(channel)
        tokens = world["tokens"]
        assert isinstance(tokens, dict)
        got: dict[str, tuple[str, ...]] = {}
        reasons: dict[tuple[str, str], str] = {}
        for method in served_methods():
            row = []
            for caller in CALLERS:
                code, reason = await call(
                    channel, method, request_for(method, world), credentials(caller, tokens)
                )
                row.append(code)
                reasons[method, caller] = reason
            got[method] = tuple(row)
    wrong = {
        method: (got[method], EXPECTED[method])
        for method in EXPECTED
        if got.get(method) != EXPECTED[method]
    }
    assert not wrong, "\n".join(f"{m}: got {g}, expected {e}" for m, (g, e) in wrong.items())
    for method in EXPECTED:
        rule = RULES[f"/agentmail.v1.{method}"].value
        # An operator refused by an agent-only rule says why, in the reason.
        if rule in OPERATOR_REASONS:
            assert reasons[method, "operator"] == OPERATOR_REASONS[rule], method
        if rule == "operator":
            assert reasons[method, "self"] == "OPERATOR_REQUIRED", method
        assert reasons[method, "none"] in ("TOKEN_MISSING", "ENROLLMENT_REQUIRED"), method
        assert reasons[method, "bogus"] == "TOKEN_INVALID", method


def _mtls_channel(address: str, ca: Issued, certificate: Issued) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.cert_pem,
        private_key=certificate.key_pem,
        certificate_chain=certificate.cert_pem,
    )
    return grpc.aio.secure_channel(address, credentials)


async def test_an_operator_certificate_is_the_operator_column(
    tmp_path, pki: Pki, ca: Issued, server_cert: Issued
) -> None:
    """Over mTLS, a call with no token from a certificate listed in ``operator_cert_names``
    ends as the operator's does, for every RPC (each called once, after the seeding)."""
    operator = CALLERS.index("operator")
    host = pki.issue(ca, "build-box", client=True)
    console = pki.issue(ca, "ops-console", client=True)
    async with (
        running_server(
            tmp_path / "data",
            archive=False,
            enrollment_secret=SECRET,
            heartbeat_seconds=0.2,
            operator_token_hashes="",
            operator_cert_names="ops-console",
            tls_cert=str(server_cert.cert_path),
            tls_key=str(server_cert.key_path),
            tls_client_ca=str(ca.cert_path),
        ) as server,
        _mtls_channel(server.address, ca, host) as agents_channel,
        _mtls_channel(server.address, ca, console) as console_channel,
    ):
        world = await seed(agents_channel)
        got = {
            method: (await call(console_channel, method, request_for(method, world), ()))[0]
            for method in served_methods()
        }
    wrong = {m: (g, EXPECTED[m][operator]) for m, g in got.items() if g != EXPECTED[m][operator]}
    assert not wrong, wrong
