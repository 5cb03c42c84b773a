"""After a mixed workload the exposition parses and carries every family the issue asks for,
with service figures that match what the workload did."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb

# The exposition is checked with every family, the archive's included.
pytestmark = pytest.mark.archive

FAMILIES = {
    # family name (as the parser reports it) -> type
    "grpc_server_started": "counter",
    "grpc_server_handled": "counter",
    "grpc_server_msg_received": "counter",
    "grpc_server_msg_sent": "counter",
    "grpc_server_handling_seconds": "histogram",
    "agentmail_messages_sent": "counter",
    "agentmail_recipients_delivered": "counter",
    "agentmail_messages_deduplicated": "counter",
    "agentmail_writer_queue_depth": "gauge",
    "agentmail_writer_queue_capacity": "gauge",
    "agentmail_writer_rejected": "counter",
    "agentmail_writer_batches": "counter",
    "agentmail_writer_batch_size": "histogram",
    "agentmail_writer_commit_seconds": "histogram",
    "agentmail_subscriptions": "gauge",
    "agentmail_subscription_buffered_events": "gauge",
    "agentmail_subscription_overflows": "counter",
    "agentmail_subscription_catch_ups": "counter",
    "agentmail_read_pool_idle": "gauge",
    "agentmail_cache_hits": "counter",
    "agentmail_cache_misses": "counter",
    "agentmail_database_size_bytes": "gauge",
    "agentmail_archive_lag_messages": "gauge",
    "agentmail_archive_lag_seconds": "gauge",
    "agentmail_archive_commits": "counter",
    "agentmail_archive_messages": "counter",
    "agentmail_archive_failures": "counter",
    "agentmail_archive_worker_restarts": "counter",
    "agentmail_archive_pack_files": "gauge",
    "agentmail_archive_pack_bytes": "gauge",
    "agentmail_archive_step_seconds": "histogram",
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "python_gc_collections": "counter",
}


async def mixed_workload(metrics) -> dict[str, int]:
    """Sends (one deduplicated), a reply, reads, an open subscription; returns what it did."""
    slug = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/mixed"))
    ).project.slug
    tokens = {}
    for name in ("Alice", "Bob", "Carol"):
        response = await metrics.agents.RegisterAgent(
            apb.RegisterAgentRequest(project=slug, name=name)
        )
        tokens[name] = (("authorization", f"Bearer {response.agent_token}"),)
    alice, bob = tokens["Alice"], tokens["Bob"]
    subscription = metrics.mail.SubscribeInbox(mpb.SubscribeInboxRequest(), metadata=bob)
    assert (await asyncio.wait_for(subscription.read(), 10)).HasField("heartbeat")
    sent = await asyncio.gather(
        *(
            metrics.mail.SendMessage(
                mpb.SendMessageRequest(to=["Bob", "Carol"], subject=f"s{i}"), metadata=alice
            )
            for i in range(10)
        )
    )
    again = mpb.SendMessageRequest(to=["Bob"], subject="once", idempotency_key="k1")
    first = await metrics.mail.SendMessage(again, metadata=alice)
    repeat = await metrics.mail.SendMessage(again, metadata=alice)
    assert repeat.deduplicated and not first.deduplicated
    await metrics.mail.ReplyMessage(
        mpb.ReplyMessageRequest(message_id=sent[0].message.id, body="ok"), metadata=bob
    )
    await metrics.mail.ListInbox(mpb.ListInboxRequest(), metadata=bob)
    await metrics.mail.MarkRead(mpb.MarkReadRequest(message_ids=[sent[0].message.id]), metadata=bob)
    for _ in range(11):  # Bob's subscription receives the 10 sends and the keyed one
        await asyncio.wait_for(subscription.read(), 10)
    return {"messages": 12, "recipients": 10 * 2 + 1 + 1, "deduplicated": 1, "open": 1}


async def test_exposition_parses_and_carries_every_family(metrics):
    did = await mixed_workload(metrics)

    samples = await metrics.samples()

    kinds = {name: family.type for name, family in samples.families.items()}
    missing = {name: kind for name, kind in FAMILIES.items() if kinds.get(name) != kind}
    assert not missing, f"missing or mistyped families: {missing}"
    assert samples.value("agentmail_messages_sent_total") == did["messages"]
    assert samples.value("agentmail_recipients_delivered_total") == did["recipients"]
    assert samples.value("agentmail_messages_deduplicated_total") == did["deduplicated"]
    assert samples.value("agentmail_subscriptions") == did["open"]
    assert samples.value("agentmail_writer_queue_capacity") == 10000
    assert samples.value("agentmail_database_size_bytes", file="main") > 0
    assert samples.value("agentmail_cache_hits_total", cache="tokens") > 0
    batches = samples.value("agentmail_writer_batches_total")
    assert batches > 0
    assert samples.value("agentmail_writer_batch_size_count") == batches
    assert samples.value("agentmail_writer_commit_seconds_count") == batches
    assert samples.value("agentmail_writer_batch_size_sum") == samples.value(
        "agentmail_writer_operations_total"
    )
    assert samples.value("grpc_server_handled_total", grpc_method="ReplyMessage") == 1


async def test_archive_progress_matches_the_repository(metrics):
    did = await mixed_workload(metrics)
    server = metrics.server
    newest = did["messages"]  # ids start at 1 in a fresh database
    await server.archive.wait_until_archived(newest, 20)

    samples = await metrics.samples()

    assert samples.value("agentmail_archive_lag_messages") == 0
    assert samples.value("agentmail_archive_messages_total") == did["messages"]
    commits = samples.value("agentmail_archive_commits_total")
    assert 1 <= commits <= did["messages"] + 1  # + the commit of the agents' profiles
    assert samples.value("agentmail_archive_step_seconds_count") >= commits
    assert samples.value("agentmail_archive_failures_total") == 0
    packs = server.config.archive_path / "objects" / "pack"
    on_disk = sorted(packs.glob("pack-*"))
    assert samples.value("agentmail_archive_pack_files") == len(
        [path for path in on_disk if path.suffix == ".idx"]
    )
    assert samples.value("agentmail_archive_pack_bytes") == sum(
        path.stat().st_size for path in on_disk
    )


async def test_histograms_are_cumulative_and_end_at_inf(metrics):
    await mixed_workload(metrics)

    samples = await metrics.samples()

    for name in (
        "grpc_server_handling_seconds",
        "agentmail_writer_commit_seconds",
        "agentmail_archive_step_seconds",
    ):
        family = samples.families[name]
        series: dict[tuple, list[tuple[float, float]]] = {}
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                series.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
        assert series, name
        for buckets in series.values():
            bounds = [bound for bound, _ in buckets]
            counts = [count for _, count in buckets]
            assert bounds == sorted(bounds) and bounds[-1] == float("inf")
            assert counts == sorted(counts), f"{name} buckets are not cumulative"


async def test_promtool_accepts_the_exposition(metrics, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not on PATH; install Debian's prometheus package"
        if os.environ.get("AGENTMAIL_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    await mixed_workload(metrics)
    text = await metrics.scrape()

    result = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == result.stderr.strip() == "", result.stdout + result.stderr


async def test_archive_lag_is_exported_only_with_an_archive(
    tmp_path, start_server, parse_samples, fetch
):
    async with start_server(tmp_path / "data", metrics_listen="127.0.0.1:0", archive=False) as srv:
        text = await asyncio.to_thread(fetch, f"http://127.0.0.1:{srv.metrics_port}/metrics")

    families = parse_samples(text).families
    assert "agentmail_archive_lag_messages" not in families
    assert "agentmail_writer_queue_depth" in families
