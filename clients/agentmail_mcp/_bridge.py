"""The bridge's one connection to agentmail, its identity, and how failures reach the model.

Every tool runs its client calls inside :meth:`Bridge.calling`, which turns an agentmail error
into an MCP tool error carrying the server's reason and a hint (never a traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from agentmail_client import (
    AgentEvent,
    AgentmailClient,
    AgentmailError,
    ChannelConfig,
    Message,
    TlsConfig,
)
from mcp.server.mcpserver.exceptions import ToolError

from ._config import BridgeConfig, ConfigError, read_token, write_private

# What the model can do about a failure, by the server's ErrorInfo reason (or gRPC status).
_HINTS = {
    "UNAUTHENTICATED": "call register_agent first (the bridge then keeps the token itself)",
    "NOT_FOUND": "check the name or id (list_agents, fetch_inbox or search_messages show them)",
    "INVALID_ARGUMENT": "fix the argument the message names and call again",
    "PERMISSION_DENIED": "this agent may not do that (contact policy or ownership)",
    "ALREADY_EXISTS": "it exists already; use it instead of creating it",
    "FAILED_PRECONDITION": "the state does not allow this now; read it again and retry",
    "RESOURCE_EXHAUSTED": "a rate or size limit was hit; wait a little or send less",
    "UNAVAILABLE": "the agentmail server cannot be reached; retry shortly",
    "DEADLINE_EXCEEDED": "the server took too long; retry shortly",
    "OUT_OF_RANGE": "the value is outside what the server accepts",
}


class Bridge:
    """One agent identity on one agentmail server, shared by all tools of the process."""

    def __init__(self, config: BridgeConfig) -> None:
        """Opens the channel (lazily: nothing is sent before the first call).

        Raises:
            ConfigError: A TLS file cannot be read.
        """
        self.config = config
        channel = ChannelConfig()
        try:
            if config.uses_tls:
                tls = TlsConfig(
                    root_certificates=config.tls_roots or None,
                    client_certificate=config.tls_client_cert or None,
                    client_key=config.tls_client_key or None,
                    server_name_override=config.tls_server_name,
                )
                channel = ChannelConfig(tls=tls)
            self._anonymous = AgentmailClient(
                config.address,
                channel=channel,
                enrollment_secret=config.enrollment_secret or None,
            )
        except ValueError as error:
            raise ConfigError(f"TLS settings: {error}") from None
        self._client: AgentmailClient | None = None
        # Called after register_agent stores a token (the push stream may start then).
        self.on_token: list[Callable[[], Awaitable[None]]] = []

    async def client(self) -> AgentmailClient:
        """A client acting as this agent.

        Raises:
            ToolError: No token is stored yet (register_agent first) or the file is unsafe.
        """
        if self._client is None:
            try:
                token = await asyncio.to_thread(read_token, self.config.token_file)
            except ConfigError as error:
                raise ToolError(str(error)) from error
            if token is None:
                raise ToolError(
                    f"agent {self.config.agent!r} has no token yet. Hint: call register_agent "
                    "once; the bridge stores the token and uses it from then on"
                )
            self._client = self._anonymous.with_token(token)
        return self._client

    @property
    def anonymous(self) -> AgentmailClient:
        """A client without a token (for ensure_project and register_agent)."""
        return self._anonymous

    async def store_token(self, token: str) -> None:
        """Keeps ``token`` in the token file and acts with it from now on."""
        await asyncio.to_thread(write_private, self.config.token_file, token + "\n")
        self._client = self._anonymous.with_token(token)
        for callback in self.on_token:
            await callback()

    async def close(self) -> None:
        """Closes the channel."""
        await self._anonymous.close()

    @contextlib.contextmanager
    def calling(self, what: str) -> Iterator[None]:
        """Turns an agentmail error raised inside into a tool error with reason and hint."""
        try:
            yield
        except AgentmailError as error:
            raise tool_error(what, error) from None
        except ValueError as error:
            # The typed client validates some arguments itself before sending them.
            raise ToolError(f"{what} failed: {error}. Hint: fix the argument and retry") from None


def tool_error(what: str, error: AgentmailError, hint: str | None = None) -> ToolError:
    """The tool error for ``error``: ``what failed [REASON]: message. Hint: ...``."""
    status = error.code.name if error.code is not None else "UNKNOWN"
    reason = error.reason or status
    hint = hint or _HINTS.get(status, "see the message")
    details = "; ".join(f"{v.field}: {v.description}" for v in error.field_violations)
    text = f"{what} failed [{reason}]: {error.message}"
    if details:
        text += f" ({details})"
    return ToolError(f"{text}. Hint: {hint}")


def iso(time: datetime.datetime | None) -> str | None:
    """A timestamp as ISO 8601 (UTC), or ``None``."""
    return None if time is None else time.isoformat()


def headline(message: Message) -> dict[str, Any]:
    """The fields of a message a model needs to decide what to do with it, without the body."""
    return {
        "id": message.id,
        "sender": message.sender,
        "to": list(message.to),
        "cc": list(message.cc),
        "subject": message.subject,
        "importance": message.importance.value,
        "ack_required": message.ack_required,
        "thread_id": message.thread_id,
        "topic": message.topic,
        "created": iso(message.create_time),
    }


def full_message(message: Message) -> dict[str, Any]:
    """A message's headline plus its body."""
    return {**headline(message), "body_md": message.body}


def event_summary(event: AgentEvent) -> dict[str, Any]:
    """A coordination event as a compact dictionary."""
    detail = event.detail
    out: dict[str, Any] = {"created": iso(event.create_time)}
    if detail is None:
        out["type"] = "unknown"
        return out
    out["type"] = type(detail).__name__.removesuffix("Event").lower()
    for name, value in vars(detail).items():
        if isinstance(value, datetime.datetime):
            out[name] = iso(value)
        elif hasattr(value, "value"):  # an enum: its wire name
            out[name] = value.value
        else:
            out[name] = value
    return out
