"""Bearer-token authentication: tokens are random, shown once, and stored only as hashes.

Why a lookup by hash is constant-time enough: the database is searched by the SHA-256 of the
presented token, so whatever timing an index seek leaks is about the *hash*, and learning a
prefix of a hash does not help anyone make a token that hashes to it. The stored hash found is
still compared with :func:`hmac.compare_digest` before it is trusted, and operator hashes (few,
in memory) are all compared that way, so no early exit tells which one nearly matched.

Why the cache is keyed by the raw token (so a known token costs a dict lookup, not a SHA-256
per call, here and in the rate limiter): a ``dict`` finds a key by its ``hash()``, which for
strings is SipHash under a random per-process key, and compares strings only when those 64-bit
hashes are equal; a caller cannot choose tokens that collide with a cached one without knowing
the key, so the lookup's timing tells nothing about any cached token. Only tokens that proved
valid (their hash found in the database) are ever cached, the cache is bounded, and its keys
never leave it: its stats are counts, and invalidation walks the values (the agent), never the
keys. The raw token is in this process's memory during every call anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from agentmail_server.domain.clock import Clock
from agentmail_server.domain.models import Caller, Identity, Operator, TokenHolder
from agentmail_server.errors import Unauthenticated
from agentmail_server.services.cache import LruCache
from agentmail_server.services.presence import Presence
from agentmail_server.storage.ports import MailReads

TOKEN_PREFIX = "am_"
OPERATOR_TOKEN_PREFIX = "amop_"


def new_token() -> str:
    """A fresh agent token with 256 bits of randomness."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_operator_token() -> str:
    """A fresh operator token with 256 bits of randomness (its prefix tells it apart)."""
    return OPERATOR_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token. Tokens are random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_authorization(value: str | None) -> str | None:
    """The token in an ``authorization: Bearer <token>`` value; None when absent.

    Raises:
        Unauthenticated: the header is present but not a bearer token.
    """
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "TOKEN_MISSING", "the authorization metadata must be 'Bearer <agent token>'"
        )
    return token


class Authenticator:
    """Turns a presented token into the agent (or operator) it belongs to, through a bounded
    cache, and stamps an agent active (in memory: see :mod:`.presence`) on every
    authenticated call.

    The cache maps a presented token (see the module docstring) to its holder and expiry.
    Tokens change only through this process's writes (rotation, revocation), which call
    :meth:`forget_agent` right after committing, so a cached entry never outlives the token
    (expiry is checked on every hit). Operator tokens are never cached: they are recognised
    by their hash on every call (operators call rarely).
    """

    def __init__(
        self,
        queries: MailReads,
        cache_size: int,
        presence: Presence | None = None,
        *,
        clock: Clock | None = None,
        operator_hashes: Iterable[str] = (),
        operator_cert_names: Iterable[str] = (),
    ) -> None:
        self._queries = queries
        self._presence = presence
        self._clock = clock
        self._operator_hashes = tuple(operator_hashes)
        self._operator_cert_names = frozenset(name for name in operator_cert_names if name)
        self.cache: LruCache[str, TokenHolder] = LruCache(cache_size)
        # Bumped by every forget_agent: a lookup that read the database while tokens changed
        # does not cache what it read (it may predate the change and outlive the forgetting).
        self._epoch = 0

    async def identify_caller(self, token: str) -> Caller:
        """The agent or operator holding ``token``.

        Raises:
            Unauthenticated: TOKEN_INVALID, nobody holds it (or it expired).
        """
        holder = self.cache.get(token)
        if holder is None:
            digest = hash_token(token)
            if self._is_operator(digest):
                return Operator("token")
            epoch = self._epoch
            holder = await self._queries.identity_by_token_hash(digest)
            if holder is None or not hmac.compare_digest(holder.token_hash, digest):
                raise _invalid()
            if epoch == self._epoch:
                self.cache.put(token, holder)
        if holder.expires_at is not None and (
            self._clock is None or holder.expires_at <= self._clock.now_micros()
        ):
            raise _invalid()
        return holder.identity

    async def caller(self, authorization: str | None) -> Caller | None:
        """The caller from its authorization metadata; None when it sent none.

        Raises:
            Unauthenticated: a malformed header or an unknown token.
        """
        token = parse_authorization(authorization)
        if token is None:
            return None
        caller = await self.identify_caller(token)
        if isinstance(caller, Identity):
            self.touch(caller)
        return caller

    def certificate_operator(self, common_name: str) -> Operator | None:
        """The operator a *verified* client certificate's common name makes its caller, if
        the name is one of ``operator_cert_names`` (exact match: a CN is no secret, and a
        case-folded match would let a CA issue "OPS" to someone who is not "ops")."""
        if common_name and common_name in self._operator_cert_names:
            return Operator(f"certificate:{common_name}")
        return None

    def forget_agent(self, agent_id: int) -> int:
        """Drop every cached token of the agent (after its tokens changed); returns how many."""
        self._epoch += 1
        return self.cache.discard_if(lambda _, holder: holder.identity.agent_id == agent_id)

    def touch(self, identity: Identity) -> None:
        """Note that the agent is active now without a new call (an open inbox stream that
        keeps taking heartbeats is an agent at work)."""
        if self._presence is not None:
            self._presence.touch(identity.agent_id)

    def _is_operator(self, digest: str) -> bool:
        # Every hash is compared (no early exit), in constant time each.
        found = False
        for known in self._operator_hashes:
            found |= hmac.compare_digest(known, digest)
        return found


def _invalid() -> Unauthenticated:
    return Unauthenticated("TOKEN_INVALID", "the token is not valid")
