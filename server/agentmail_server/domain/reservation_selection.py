"""Which of an agent's reservations a renew or release by ids names: the checks both storage
backends make on the reservations they loaded, with the same errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agentmail_server.domain.reservations import Reservation
from agentmail_server.errors import FailedPrecondition, NotFound, PermissionDenied


def selected_by_ids(
    ids: Sequence[int],
    found: Mapping[int, Reservation],
    agent_id: int,
    now: int,
    *,
    require_active: bool,
) -> list[Reservation]:
    """The active reservations among ``ids`` (in their order), given ``found``: those of the
    ids that exist in the caller's project.

    Raises:
        NotFound: RESERVATION_NOT_FOUND for ids unknown or of another project.
        PermissionDenied: NOT_RESERVATION_HOLDER for another agent's reservation.
        FailedPrecondition: RESERVATION_NOT_ACTIVE, with ``require_active``, for one that is
            released or expired.
    """
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ",".join(str(i) for i in missing)
        raise NotFound(
            "RESERVATION_NOT_FOUND",
            f"no reservation with id {shown} in this project",
            metadata={"reservationIds": shown},
        )
    foreign = [i for i in ids if found[i].agent_id != agent_id]
    if foreign:
        shown = ",".join(str(i) for i in foreign)
        raise PermissionDenied(
            "NOT_RESERVATION_HOLDER",
            f"reservation {shown} is held by another agent"
            " (ForceReleaseReservation releases a stale one)",
            metadata={"reservationIds": shown},
        )
    inactive = [i for i in ids if not found[i].active_at(now)]
    if inactive and require_active:
        shown = ",".join(str(i) for i in inactive)
        raise FailedPrecondition(
            "RESERVATION_NOT_ACTIVE",
            f"reservation {shown} is released or expired; reserve the pattern again",
            metadata={"reservationIds": shown},
        )
    return [found[i] for i in ids if found[i].active_at(now)]
