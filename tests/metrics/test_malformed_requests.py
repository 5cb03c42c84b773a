"""A request whose bytes do not parse is a call like any other: counted by grpc_code, logged
once at DEBUG with its reason, never as an ERROR traceback."""

from __future__ import annotations

import logging

import grpc

# A field 1 tag announcing a length-delimited value of 2**63 bytes: no message parses it.
BAD_PROTOBUF = b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f"


async def test_a_malformed_request_is_counted_and_logged_once_at_debug(
    metrics, expect_error, caplog
):
    caplog.set_level(logging.DEBUG)
    send = metrics.channel.unary_unary("/agentmail.v1.MailService/SendMessage")
    watch = metrics.channel.unary_stream("/grpc.health.v1.Health/Watch")

    async def watch_call() -> list[bytes]:
        return [response async for response in watch(BAD_PROTOBUF, timeout=10)]

    for call in (send(BAD_PROTOBUF, timeout=10), watch_call()):
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    samples = await metrics.samples()

    assert samples.handled("SendMessage") == {"InvalidArgument": 1}
    assert samples.handled("Watch") == {"InvalidArgument": 1}
    assert samples.rpc("grpc_server_started_total", "SendMessage") == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    malformed = [r for r in caplog.records if "MALFORMED_REQUEST" in r.getMessage()]
    assert [(r.levelno, r.getMessage().split()[1]) for r in malformed] == [
        (logging.DEBUG, "/agentmail.v1.MailService/SendMessage"),
        (logging.DEBUG, "/grpc.health.v1.Health/Watch"),
    ]
