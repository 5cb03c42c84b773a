"""Bearer-token authentication: tokens are random, shown once, and stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from agentmail_server.domain.models import Identity
from agentmail_server.errors import Unauthenticated
from agentmail_server.services.cache import LruCache
from agentmail_server.services.presence import Presence
from agentmail_server.storage.ports import MailReads

TOKEN_PREFIX = "am_"


def new_token() -> str:
    """A fresh agent token with 256 bits of randomness."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


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
    """Turns a presented token into the agent it belongs to, through a bounded cache, and
    stamps the agent active (in memory: see :mod:`.presence`) on every authenticated call."""

    def __init__(
        self, queries: MailReads, cache_size: int, presence: Presence | None = None
    ) -> None:
        self._queries = queries
        self._presence = presence
        self.cache: LruCache[str, Identity] = LruCache(cache_size)

    async def identify(self, token: str) -> Identity:
        """The agent holding ``token``.

        Raises:
            Unauthenticated: no agent holds it.
        """
        digest = hash_token(token)
        identity = self.cache.get(digest)
        if identity is None:
            identity = await self._queries.identity_by_token_hash(digest)
            if identity is None:
                raise Unauthenticated("TOKEN_INVALID", "the agent token is not valid")
            self.cache.put(digest, identity)
        return identity

    async def require(self, authorization: str | None) -> Identity:
        """The caller's identity from its authorization metadata.

        Raises:
            Unauthenticated: no token, a malformed header, or an unknown token.
        """
        token = parse_authorization(authorization)
        if token is None:
            raise Unauthenticated(
                "TOKEN_MISSING", "this call needs 'authorization: Bearer <agent token>' metadata"
            )
        identity = await self.identify(token)
        self.touch(identity)
        return identity

    def touch(self, identity: Identity) -> None:
        """Note that the agent is active now without a new call (an open inbox stream that
        keeps taking heartbeats is an agent at work)."""
        if self._presence is not None:
            self._presence.touch(identity.agent_id)
