"""The enrollment secret: what creating a project or registering a new agent requires.

The secret travels as call metadata (:data:`ENROLLMENT_METADATA_KEY`), never in a request
message, so it never reaches storage, the archive or an access log line.
"""

from __future__ import annotations

import hmac

from agentmail_server.errors import Unauthenticated

# The metadata key carrying the secret (gRPC metadata keys are lower-case).
ENROLLMENT_METADATA_KEY = "x-agentmail-enrollment"


class Enrollment:
    """Checks a presented enrollment secret against the configured one (none: no check)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    @property
    def required(self) -> bool:
        """Whether a secret is configured."""
        return bool(self._secret)

    def problem(self, presented: str | None) -> Unauthenticated | None:
        """Why ``presented`` does not allow enrolling, or None when it does."""
        if not self._secret:
            return None
        if presented is None:
            return Unauthenticated(
                "ENROLLMENT_REQUIRED",
                f"this server requires its enrollment secret in '{ENROLLMENT_METADATA_KEY}'"
                " metadata to create projects and agents",
            )
        if not hmac.compare_digest(presented.encode(), self._secret):
            return Unauthenticated(
                "ENROLLMENT_INVALID", "the enrollment secret presented is not this server's"
            )
        return None

    def check(self, presented: str | None) -> None:
        """Raise :meth:`problem`'s error, if any."""
        problem = self.problem(presented)
        if problem is not None:
            raise problem
