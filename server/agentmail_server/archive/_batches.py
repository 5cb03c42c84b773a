"""One archive step: render a batch of records and commit it. Shared by the background
projector and the ``rebuild`` command, so both write exactly the same repository."""

from __future__ import annotations

from collections.abc import Callable

import pygit2

from agentmail_server.archive._commits import commit_message
from agentmail_server.archive._layout import (
    message_paths,
    profile_path,
    project_path,
    render_message,
    render_profile,
    render_project,
    render_reservation,
    reservation_path,
)
from agentmail_server.archive._source import Batch
from agentmail_server.archive.git import GitStore


def write_batch(
    store: GitStore, batch: Batch, before_publish: Callable[[], None] | None = None
) -> pygit2.Oid | None:
    """Write every record of ``batch`` in one commit recording ``batch.position``.

    Each message is one blob, entered at its file path and at each of its views.
    ``before_publish`` runs just before the branch moves (see :meth:`GitStore.commit`).

    Returns:
        The commit, or None when the batch changed nothing (e.g. records already archived).
    """
    changes: dict[str, pygit2.Oid | None] = {}
    try:
        for record in batch.messages:
            blob = store.blob(render_message(record))
            for path in message_paths(record):
                changes[path] = blob
        for project in batch.projects:
            changes[project_path(project)] = store.blob(render_project(project))
        for agent in batch.agents:
            changes[profile_path(agent)] = store.blob(render_profile(agent))
        for reservation in batch.reservations:
            changes[reservation_path(reservation)] = store.blob(render_reservation(reservation))
        if not changes:
            return None
        message = commit_message(batch.messages, batch.agents, batch.position, batch.reservations)
        return store.commit(changes, message, before_publish)
    except BaseException:
        store.discard()
        raise
