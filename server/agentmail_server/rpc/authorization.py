"""Who may call what: the one authorisation table, and the gate the servicers ask.

Every RPC of our services has exactly one rule in :data:`RULES` (a test walks the service
descriptors and fails for an RPC without one, then calls every RPC as each kind of caller).
The README's "Authorisation" table is this table in words.

Callers: an *agent* presents its token (``authorization: Bearer <token>``); an *operator*
presents an operator token, or (with mTLS and no token) a client certificate whose CN is
listed in ``operator_cert_names``: see :func:`operator_from_certificate`. A token, when sent,
always decides. An operator administers every project but is no agent: it cannot send mail as
one nor read anyone's mail.
"""

from __future__ import annotations

import enum
from typing import Any

from agentmail_server.domain.models import Caller, Identity, Operator
from agentmail_server.errors import PermissionDenied, Unauthenticated
from agentmail_server.rpc.context import authorization, metadata_value, peer_identity
from agentmail_server.services.auth import Authenticator
from agentmail_server.services.enrollment import ENROLLMENT_METADATA_KEY, Enrollment


class Rule(enum.Enum):
    """What a caller must be."""

    # The enrollment secret (when one is configured), an operator, or an agent of the
    # project concerned (an existing one only: creating needs the secret or an operator).
    ENROLLMENT = "enrollment"
    # A new name: as ENROLLMENT. An existing name: that agent's own token.
    REGISTER = "register"
    # An agent (sees its own project only) or an operator (sees every project).
    AGENT_OR_OPERATOR = "agent-or-operator"
    # The agent itself, or an operator for any agent.
    SELF_OR_OPERATOR = "self-or-operator"
    # An agent acting for itself; an operator is refused (OPERATOR_NOT_AGENT).
    AGENT = "agent"
    # An agent reading or writing its mail; an operator is refused (OPERATOR_CANNOT_READ_MAIL).
    MAIL = "mail"
    # An operator only; an agent is refused (OPERATOR_REQUIRED).
    OPERATOR = "operator"


_AGENTS = "/agentmail.v1.AgentService/"
_MAIL = "/agentmail.v1.MailService/"
_SEARCH = "/agentmail.v1.SearchService/"
_RESERVATIONS = "/agentmail.v1.ReservationService/"

# The authorisation table: full method name -> rule.
RULES: dict[str, Rule] = {
    _AGENTS + "EnsureProject": Rule.ENROLLMENT,
    _AGENTS + "GetProject": Rule.AGENT_OR_OPERATOR,
    _AGENTS + "ListProjects": Rule.AGENT_OR_OPERATOR,
    _AGENTS + "RegisterAgent": Rule.REGISTER,
    _AGENTS + "GetAgent": Rule.AGENT_OR_OPERATOR,
    _AGENTS + "ListAgents": Rule.AGENT_OR_OPERATOR,
    _AGENTS + "UpdateAgent": Rule.AGENT,
    _AGENTS + "SetContactPolicy": Rule.AGENT,
    _AGENTS + "RequestContact": Rule.AGENT,
    _AGENTS + "RespondContact": Rule.AGENT,
    _AGENTS + "ListContacts": Rule.AGENT,
    _AGENTS + "RetireAgent": Rule.SELF_OR_OPERATOR,
    _AGENTS + "UnretireAgent": Rule.SELF_OR_OPERATOR,
    _AGENTS + "RotateToken": Rule.AGENT,
    _AGENTS + "RevokeTokens": Rule.OPERATOR,
    _MAIL + "SendMessage": Rule.MAIL,
    _MAIL + "SendMessages": Rule.MAIL,
    _MAIL + "ReplyMessage": Rule.MAIL,
    _MAIL + "GetMessage": Rule.MAIL,
    _MAIL + "ListInbox": Rule.MAIL,
    _MAIL + "ListOutbox": Rule.MAIL,
    _MAIL + "GetThread": Rule.MAIL,
    _MAIL + "MarkRead": Rule.MAIL,
    _MAIL + "AcknowledgeMessage": Rule.MAIL,
    _MAIL + "SubscribeInbox": Rule.MAIL,
    _MAIL + "SummarizeThread": Rule.MAIL,
    _MAIL + "ListPendingAcks": Rule.MAIL,
    _MAIL + "ListUnacknowledged": Rule.MAIL,
    _SEARCH + "SearchMessages": Rule.MAIL,
    _RESERVATIONS + "ReservePaths": Rule.AGENT,
    _RESERVATIONS + "CheckConflicts": Rule.AGENT,
    _RESERVATIONS + "RenewReservations": Rule.AGENT,
    _RESERVATIONS + "ReleaseReservations": Rule.AGENT,
    # An agent: a stale reservation of its project (the holder is mailed). An operator: any
    # reservation of any project, stale or not (the holder gets a FORCE_RELEASED event only).
    _RESERVATIONS + "ForceReleaseReservation": Rule.AGENT_OR_OPERATOR,
    _RESERVATIONS + "ListReservations": Rule.AGENT,
}

_AGENT_ONLY = {Rule.AGENT: "OPERATOR_NOT_AGENT", Rule.MAIL: "OPERATOR_CANNOT_READ_MAIL"}


def operator_from_certificate(context: Any, auth: Authenticator) -> Operator | None:
    """The operator the caller's verified client certificate names, if any.

    ``peer_identity`` reports verified certificates only (mTLS: the server requires them and
    checks them against ``tls_client_ca`` before a handler runs); its common name makes the
    caller an operator when it is listed in ``operator_cert_names``.
    """
    identity = peer_identity(context)
    return None if identity is None else auth.certificate_operator(identity.common_name)


class Gate:
    """Applies :data:`RULES` to a call's credentials; servicers ask it first thing."""

    def __init__(self, auth: Authenticator, enrollment: Enrollment) -> None:
        self._auth = auth
        self._enrollment = enrollment

    async def agent(self, context: Any, method: str) -> Identity:
        """The calling agent of an AGENT or MAIL method.

        Raises:
            Unauthenticated: no token, a malformed or unknown one.
            PermissionDenied: an operator (OPERATOR_NOT_AGENT or OPERATOR_CANNOT_READ_MAIL).
        """
        rule = _rule(method, Rule.AGENT, Rule.MAIL)
        caller = await self._required(context)
        if isinstance(caller, Operator):
            raise PermissionDenied(
                _AGENT_ONLY[rule],
                "an operator cannot read mail"
                if rule is Rule.MAIL
                else "an operator cannot act as an agent",
            )
        return caller

    async def caller(self, context: Any, method: str) -> Caller:
        """The calling agent or operator of an AGENT_OR_OPERATOR or SELF_OR_OPERATOR method."""
        _rule(method, Rule.AGENT_OR_OPERATOR, Rule.SELF_OR_OPERATOR)
        return await self._required(context)

    async def operator(self, context: Any, method: str) -> Operator:
        """The calling operator of an OPERATOR method.

        Raises:
            PermissionDenied: OPERATOR_REQUIRED, an agent called.
        """
        _rule(method, Rule.OPERATOR)
        caller = await self._required(context)
        if not isinstance(caller, Operator):
            raise PermissionDenied("OPERATOR_REQUIRED", "only an operator may do this")
        return caller

    async def enrolling(self, context: Any, method: str) -> Enrolling:
        """The credentials of an ENROLLMENT or REGISTER call: who calls (if anyone says)
        and why it may not create anything (None when it may)."""
        _rule(method, Rule.ENROLLMENT, Rule.REGISTER)
        caller = await self._presented(context)
        problem = None
        if not isinstance(caller, Operator):
            problem = self._enrollment.problem(metadata_value(context, ENROLLMENT_METADATA_KEY))
        return Enrolling(caller, problem)

    async def _presented(self, context: Any) -> Caller | None:
        """Who the call's credentials say is calling: its bearer token when it sends one
        (an agent with a client certificate is still that agent, and a bad token fails even
        with an operator's certificate), else an operator's client certificate, else nobody.
        """
        header = authorization(context)
        if header is not None:
            return await self._auth.caller(header)
        return operator_from_certificate(context, self._auth)

    async def _required(self, context: Any) -> Caller:
        caller = await self._presented(context)
        if caller is None:
            raise Unauthenticated(
                "TOKEN_MISSING", "this call needs 'authorization: Bearer <token>' metadata"
            )
        return caller


class Enrolling:
    """An enrollment call's caller (None: no token) and the reason it may not create
    (None: it may)."""

    __slots__ = ("caller", "problem")

    def __init__(self, caller: Caller | None, problem: Unauthenticated | None) -> None:
        self.caller = caller
        self.problem = problem


def _rule(method: str, *expected: Rule) -> Rule:
    rule = RULES[method]
    if rule not in expected:
        raise RuntimeError(f"{method} is {rule.value} in RULES, not {expected}")
    return rule
