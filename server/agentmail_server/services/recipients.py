"""Resolving recipient names to agents: validated, de-duplicated, through a bounded cache."""

from __future__ import annotations

from collections.abc import Sequence

from agentmail_server.domain import names
from agentmail_server.domain.limits import MAX_RECIPIENTS
from agentmail_server.domain.models import Recipient, RecipientKind
from agentmail_server.errors import FieldViolation, InvalidArgument, NotFound, invalid
from agentmail_server.services.cache import LruCache
from agentmail_server.storage.ports import MailReads


class RecipientResolver:
    """Maps names in a project to agents. Agents are never renamed, so entries never go stale.

    Two bounded caches (``cache_size`` entries each, least recently used dropped): by name key
    (what the database is searched by), and by the exact text a caller gave (``" Bob"`` and
    ``"bob"`` apart). The second lets a send to names seen before skip validation and
    normalisation: a text is cached only after it passed them, and the same text always would.
    """

    def __init__(self, queries: MailReads, cache_size: int) -> None:
        self._queries = queries
        self.cache: LruCache[tuple[int, str], tuple[int, str]] = LruCache(cache_size)
        self._given: LruCache[tuple[int, str], tuple[int, str]] = LruCache(cache_size)

    async def resolve(
        self,
        project_id: int,
        addressed: Sequence[tuple[RecipientKind, Sequence[str]]],
    ) -> tuple[Recipient, ...]:
        """Resolve (kind, names) lists into distinct recipients, most visible kind winning.

        Raises:
            InvalidArgument: a blank or malformed name (control characters included), or
                more than MAX_RECIPIENTS distinct recipients.
            NotFound: RECIPIENT_NOT_FOUND naming every unknown name.
        """
        # The usual send names agents it named before: every text is a hit, in the order and
        # with the kinds the full pass below would give (one agent per name key).
        found: dict[int, Recipient] = {}
        given = self._given
        for kind, names_given in addressed:
            for name in names_given:
                hit = given.get((project_id, name))
                if hit is None:
                    return await self._resolve(project_id, addressed)
                previous = found.get(hit[0])
                if previous is None or kind < previous.kind:
                    found[hit[0]] = Recipient(agent_id=hit[0], name=hit[1], kind=kind)
        if len(found) > MAX_RECIPIENTS:
            return await self._resolve(project_id, addressed)  # it raises, naming the count
        return tuple(found.values())

    async def _resolve(
        self,
        project_id: int,
        addressed: Sequence[tuple[RecipientKind, Sequence[str]]],
    ) -> tuple[Recipient, ...]:
        """Resolve (kind, names) lists into distinct recipients, most visible kind winning.

        Raises:
            InvalidArgument: a blank or malformed name (control characters included), or
                more than MAX_RECIPIENTS distinct recipients.
            NotFound: RECIPIENT_NOT_FOUND naming every unknown name.
        """
        wanted: dict[str, tuple[str, RecipientKind]] = {}
        keys_given: dict[str, str] = {}  # each valid text given -> its name key
        violations: list[FieldViolation] = []
        for kind, given in addressed:
            for index, name in enumerate(given):
                if not name.strip():
                    violations.append(
                        FieldViolation(f"{kind.name.lower()}[{index}]", "must not be blank")
                    )
                    continue
                # Surrounding spaces are forgiven, but not newlines, tabs or other control
                # characters: such a value is no name anyone can register, so say so rather
                # than report it missing.
                if not names.is_valid_agent_name(name.strip(" ")):
                    violations.append(
                        FieldViolation(
                            f"{kind.name.lower()}[{index}]",
                            "is not a valid agent name (a letter, then letters, digits,"
                            " '_' or '-')",
                        )
                    )
                    continue
                key = names.name_key(name.strip(" "))
                keys_given[name] = key
                previous = wanted.get(key)
                if previous is None or kind < previous[1]:
                    wanted[key] = (name.strip(" "), kind)
        if violations:
            raise InvalidArgument(violations)
        if len(wanted) > MAX_RECIPIENTS:
            raise invalid(
                "to",
                f"at most {MAX_RECIPIENTS} distinct recipients (got {len(wanted)})",
                "TOO_MANY_RECIPIENTS",
            )
        found: dict[str, tuple[int, str]] = {}
        misses = []
        for key in wanted:
            hit = self.cache.get((project_id, key))
            if hit is None:
                misses.append(key)
            else:
                found[key] = hit
        for agent_id, display, key in await self._queries.agents_by_keys(project_id, misses):
            found[key] = (agent_id, display)
            self.cache.put((project_id, key), (agent_id, display))
        missing = [given for key, (given, _) in wanted.items() if key not in found]
        if missing:
            shown = ", ".join(missing)
            raise NotFound(
                "RECIPIENT_NOT_FOUND",
                f"no agent named {shown} in this project",
                metadata={"missing": ",".join(missing)},
            )
        for name, key in keys_given.items():
            self._given.put((project_id, name), found[key])
        return tuple(
            Recipient(agent_id=found[key][0], name=found[key][1], kind=kind)
            for key, (_, kind) in wanted.items()
        )
