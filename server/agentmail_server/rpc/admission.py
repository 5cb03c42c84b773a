"""Per-caller rate limits, checked in the interceptor before a call's handler runs.

Who the caller is, cheaply: the interceptor runs before the servicer authenticates, so the
bearer token is looked up in the authenticator's token cache (keyed by the token itself: see
:mod:`agentmail_server.services.auth`) *without* touching it (:meth:`LruCache.peek`). A known
token is limited as its agent (all of an agent's tokens share one bucket); a call without a
token as its peer address (``context.peer()`` without the port, so one host's connections
share a bucket).

A token the cache does not know yet is either a valid one on its first call (the servicer's
authentication then caches it) or a bogus one. Charging such calls to the peer up front would
make a host that starts many agents at once (a broadcast to 1,000 freshly subscribed agents)
share one bucket for their first calls, so they pass free as long as the peer's bucket is not
empty, and the peer is charged when the call ends UNAUTHENTICATED
(:meth:`Admission.charge_failure`).
A flood of made-up tokens from one host therefore drains that host's bucket and is refused
before the token lookup, while each valid token costs its peer nothing.

Cost per call: a metadata scan, two dict lookups and the bucket arithmetic: about 1 µs on the
development machine (a send costs the server a few hundred µs of CPU); no lock (all on the
event loop) and no allocation.
Exempt methods (health, reflection, the benchmark ceiling) pay nothing: they get no gate.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from agentmail_server.config import ServerConfig
from agentmail_server.domain.models import TokenHolder
from agentmail_server.errors import QuotaViolation, ResourceExhausted
from agentmail_server.limits.buckets import Buckets
from agentmail_server.limits.tiers import Tier, tier_of
from agentmail_server.services.cache import LruCache

RATE_LIMITED = "RATE_LIMITED"

Context = object  # grpc.aio.ServicerContext: only invocation_metadata() and peer() are used
# Checks a call given its context and its request (which only weighs it).
Gate = Callable[[Context, object], None]

# Methods whose calls weigh more than one token: a bulk send counts its messages, so the
# write tier limits messages whatever the batching (see Buckets.take for the debt).
_WEIGHT_BY_METHOD: dict[str, Callable[[object], int]] = {
    "/agentmail.v1.MailService/SendMessages": lambda request: max(
        1, len(getattr(request, "messages", ()))
    ),
}


@dataclasses.dataclass(frozen=True)
class TierLimit:
    """One tier's rate (tokens per second; 0 means unlimited) and burst."""

    rate: float
    burst: int


def tier_limits(config: ServerConfig) -> dict[Tier, TierLimit]:
    """The configured limit of every limited tier."""
    return {
        Tier.WRITE: TierLimit(config.rate_limit_write_per_second, config.rate_limit_write_burst),
        Tier.READ: TierLimit(config.rate_limit_read_per_second, config.rate_limit_read_burst),
        Tier.SEARCH: TierLimit(config.rate_limit_search_per_second, config.rate_limit_search_burst),
        Tier.STREAM: TierLimit(config.rate_limit_stream_per_second, config.rate_limit_stream_burst),
    }


def peer_address(peer: str) -> str:
    """A ``context.peer()`` string without its port: ``ipv4:10.0.0.7:51234`` ->
    ``ipv4:10.0.0.7``, ``ipv6:[::1]:5123`` -> ``ipv6:[::1]``; ``unix:`` peers as they are."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer


def _bearer(context: object) -> str | None:
    """The bearer token of the call, or None (absent or malformed: authentication says why)."""
    for key, value in context.invocation_metadata() or ():  # type: ignore[attr-defined]
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.strip().partition(" ")
            token = token.strip()
            return token if token and scheme.lower() == "bearer" else None
    return None


class Admission:
    """The rate limiter of every call: hands each method its gate once, when wrapped.

    Args:
        config: the tiers' rates and bursts, and how many subjects each tier remembers.
        tokens: the authenticator's token cache (read with ``peek`` only).
        clock: monotonic seconds; tests pass a manual one.
    """

    def __init__(
        self,
        config: ServerConfig,
        tokens: LruCache[str, TokenHolder],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._buckets: dict[Tier, tuple[Buckets, TierLimit]] = {
            tier: (Buckets(limit.rate, limit.burst, config.rate_limit_subjects, clock), limit)
            for tier, limit in tier_limits(config).items()
            if limit.rate > 0
        }

    def gate(self, method: str) -> Gate | None:
        """The check to run before each call of ``method`` (raising ResourceExhausted
        RATE_LIMITED), or None when its tier is exempt or turned off."""
        tier = tier_of(method)
        found = self._buckets.get(tier)
        if found is None:
            return None
        buckets, limit = found
        tokens = self._tokens
        weigh = _WEIGHT_BY_METHOD.get(method)

        def admit(context: Context, request: object) -> None:
            token = _bearer(context)
            holder = tokens.peek(token) if token is not None else None
            if holder is not None:
                identity = holder.identity
                wait = buckets.take(identity.agent_id, 1 if weigh is None else weigh(request))
                if wait:
                    raise _limited(
                        tier, limit, wait, f"agent:{identity.project_slug}/{identity.name}"
                    )
                return
            peer = peer_address(context.peer())  # type: ignore[attr-defined]
            # An unknown token is charged only if it fails (see the module docstring).
            wait = buckets.take(peer) if token is None else buckets.available(peer)
            if wait:
                raise _limited(tier, limit, wait, f"peer:{peer}")

        return admit

    def charge_failure(self, method: str, context: Context) -> None:
        """A call of ``method`` ended UNAUTHENTICATED: charge its peer one token if it came
        with a token (a call without one was charged up front)."""
        found = self._buckets.get(tier_of(method))
        if found is not None and _bearer(context) is not None:
            found[0].take(peer_address(context.peer()))  # type: ignore[attr-defined]


def _limited(tier: Tier, limit: TierLimit, wait: float, subject: str) -> ResourceExhausted:
    name = tier.value
    return ResourceExhausted(
        RATE_LIMITED,
        f"too many {name} calls: the limit is {limit.rate:g} per second (bursts of "
        f"{limit.burst}); retry in {wait:.3f} s",
        metadata={"tier": name, "retryAfterMs": str(max(1, round(wait * 1000)))},
        retry_after_seconds=wait,
        quota_violations=[
            QuotaViolation(
                subject=subject,
                description=f"{name} tier: {limit.rate:g} calls per second, burst {limit.burst}",
            )
        ],
    )
