"""Labels stay bounded: no agent names, message ids or free text, and the number of series does
not grow with the number of agents or messages."""

from __future__ import annotations

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import reservation_service_pb2, search_service_pb2
from grpc_health.v1 import health_pb2

# Every series is checked, the archive's included.
pytestmark = pytest.mark.archive

SERVICES = (
    apb.DESCRIPTOR.services_by_name["AgentService"],
    mpb.DESCRIPTOR.services_by_name["MailService"],
    search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
    reservation_service_pb2.DESCRIPTOR.services_by_name["ReservationService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
)

ALLOWED_LABELS = {
    "grpc_type",
    "grpc_service",
    "grpc_method",
    "grpc_code",
    "le",
    "cache",
    "file",
    # prometheus-client's own process and platform collectors
    "generation",
    "implementation",
    "major",
    "minor",
    "patchlevel",
    "version",
}


async def workload(metrics, project: str, agents: int, messages: int) -> list[str]:
    """Register agents, send each one messages; return every name, subject and id used."""
    slug = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key=project))
    ).project.slug
    secrets = [slug]
    tokens = []
    for i in range(agents):
        name = f"Zq{project.strip('/').replace('/', '')}Agent{i}"
        response = await metrics.agents.RegisterAgent(
            apb.RegisterAgentRequest(project=slug, name=name)
        )
        tokens.append((("authorization", f"Bearer {response.agent_token}"),))
        secrets += [name, response.agent_token]
    for i in range(messages):
        subject = f"confidential-subject-{project}-{i}"
        sent = await metrics.mail.SendMessage(
            mpb.SendMessageRequest(
                to=[secrets[1 + 2 * ((i + 1) % agents)]], subject=subject, topic=f"t{i}"
            ),
            metadata=tokens[i % agents],
        )
        secrets += [subject, f"t{i}", sent.message.thread_id, str(sent.message.id)]
        await metrics.mail.GetMessage(
            mpb.GetMessageRequest(message_id=sent.message.id), metadata=tokens[i % agents]
        )
    return secrets


def series(samples) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(s.name, tuple(sorted(s.labels.items()))) for s in samples.samples}


# The grpc_code values go-grpc-prometheus writes (Go's codes.Code.String()), which published
# gRPC dashboards filter on.
GO_GRPC_PROMETHEUS_CODES = {
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
}


async def test_no_names_ids_or_free_text_in_labels(metrics):
    secrets = await workload(metrics, "/card/one", agents=3, messages=6)

    samples = await metrics.samples()

    label_names = {key for s in samples.samples for key in s.labels}
    assert label_names <= ALLOWED_LABELS, label_names - ALLOWED_LABELS
    values = {value for s in samples.samples for value in s.labels.values()}
    for secret in secrets:
        assert not any(secret in value for value in values if not secret.isdigit()), secret
    vocabulary = {
        "grpc_method": {m.name for d in SERVICES for m in d.methods},
        "grpc_service": {d.full_name for d in SERVICES},
        "grpc_code": GO_GRPC_PROMETHEUS_CODES,
        "grpc_type": {"unary", "server_stream", "client_stream", "bidi_stream"},
        "cache": {"tokens", "recipients", "projects"},
        "file": {"main", "wal"},
    }
    for sample in samples.samples:
        for key, value in sample.labels.items():
            if key == "le":
                float(value)  # a number, never an id in disguise
            elif key in vocabulary:
                assert value in vocabulary[key], (key, value)


async def test_series_do_not_grow_with_agents_or_messages(metrics):
    await workload(metrics, "/card/small", agents=2, messages=2)
    small = series(await metrics.samples())

    await workload(metrics, "/card/large", agents=20, messages=40)
    large = series(await metrics.samples())

    assert large == small
