"""Token lifecycle: an agent rotates its own token; an operator revokes an agent's tokens.

Both take effect at once in this process: the authenticator's cached entries for the agent
are dropped right after the write commits, and the agent's open inbox streams are ended
(they fail with UNAUTHENTICATED, reason TOKEN_REVOKED) unless a rotation keeps the old token
for an overlap, in which case they may run on until it expires and they re-authenticate.
"""

from __future__ import annotations

from agentmail_server.domain.clock import Clock
from agentmail_server.domain.models import Identity
from agentmail_server.errors import invalid
from agentmail_server.hub import Hub
from agentmail_server.services.auth import Authenticator, hash_token, new_token
from agentmail_server.storage.ports import AgentWrites

# The longest a rotated-out token may keep working.
MAX_ROTATION_OVERLAP_SECONDS = 3600


class TokenKeeper:
    """RotateToken and RevokeTokens."""

    def __init__(self, writes: AgentWrites, auth: Authenticator, hub: Hub, clock: Clock) -> None:
        self._writes = writes
        self._auth = auth
        self._hub = hub
        self._clock = clock

    async def rotate(self, caller: Identity, overlap_seconds: int) -> tuple[str, int]:
        """A new token for the caller (returned once) and when its other tokens stop working
        (micros): after ``overlap_seconds``, or at once when 0, ending its open streams."""
        if not 0 <= overlap_seconds <= MAX_ROTATION_OVERLAP_SECONDS:
            raise invalid(
                "overlap_seconds",
                f"must be within 0..{MAX_ROTATION_OVERLAP_SECONDS} (got {overlap_seconds})",
            )
        fresh = new_token()
        now = self._clock.now_micros()
        overlap = overlap_seconds * 1_000_000
        await self._writes.rotate_token(caller.agent_id, hash_token(fresh), now, overlap)
        self._auth.forget_agent(caller.agent_id)
        if overlap_seconds == 0:
            self._hub.end_agent(caller.agent_id)
        return fresh, now + overlap

    async def revoke(self, agent_id: int, issue_new_token: bool) -> tuple[int, str]:
        """Revoke every token of the agent at once and end its streams; returns how many
        tokens were revoked and the replacement token ("" unless ``issue_new_token``)."""
        fresh = new_token() if issue_new_token else ""
        revoked = await self._writes.revoke_tokens(
            agent_id, self._clock.now_micros(), hash_token(fresh) if fresh else None
        )
        self._auth.forget_agent(agent_id)
        self._hub.end_agent(agent_id)
        return revoked, fresh
