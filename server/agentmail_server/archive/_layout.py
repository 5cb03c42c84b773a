"""Where each record lives in the archive and what its file says. Pure: no I/O, no git.

Per project, under ``projects/<slug>/``::

    project.json                                       the project's key and creation time
    messages/YYYY/MM/<timestamp>__<subject>__<id>.md   every message, once
    agents/<name>/profile.json                         the agent's public profile
    agents/<name>/outbox/YYYY/MM/<same file name>      views: tree entries pointing at the
    agents/<name>/inbox/YYYY/MM/<same file name>       message's blob, so they cost no
    threads/<thread>/<same file name>                  storage beyond the tree entry
    reservations/<id>.json                             a file reservation, as it is now

Bcc recipients appear nowhere: not in a file's content, and not as an inbox view, because the
path ``agents/<name>/inbox/...`` would tell every reader of the repository who was bcc'd.

Every function here is deterministic, so archiving a message twice yields the same blob at the
same paths, and therefore the same tree.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import time
import unicodedata

from agentmail_server.domain.models import Agent, Message, Project
from agentmail_server.domain.reservations import Reservation

PROJECTS = "projects"
_SUBJECT_SLUG_CHARS = 60
_NON_SLUG = re.compile(r"[^a-z0-9]+")
# A thread id used verbatim as a folder name: safe on every file system and to git.
_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}(\.[A-Za-z0-9_-]{1,16})?")
# Characters a YAML double-quoted scalar must escape beyond what JSON escapes: DEL, C1
# controls, and the Unicode line and paragraph separators (YAML reads them as line breaks).
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")
# Printable ASCII without '"' and '\\': quoted as is (most names and subjects).
_PLAIN = re.compile(r"[ !#-\[\]-~]*")


@dataclasses.dataclass(frozen=True, slots=True)
class MessageRecord:
    """A committed message with its project's slug, as the archive reads it."""

    message: Message
    project_slug: str


@dataclasses.dataclass(frozen=True, slots=True)
class ReservationRecord:
    """A reservation's latest state with its project's slug, as the archive reads it."""

    reservation: Reservation
    project_slug: str


@functools.lru_cache(maxsize=4096)
def subject_slug(subject: str) -> str:
    """The subject as lowercase ASCII words joined by '-', at most 60 characters."""
    if not subject.isascii():
        subject = unicodedata.normalize("NFKD", subject).encode("ascii", "ignore").decode()
    slug = _NON_SLUG.sub("-", subject.lower()).strip("-")
    return slug[:_SUBJECT_SLUG_CHARS].rstrip("-") or "message"


def thread_folder(thread_id: str) -> str:
    """The folder name of a thread: the id itself when it is a safe name, else slug + hash."""
    if _SAFE_COMPONENT.fullmatch(thread_id):
        return thread_id
    digest = hashlib.sha256(thread_id.encode()).hexdigest()[:10]
    return f"{subject_slug(thread_id)[:48]}-{digest}"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> tuple[str, str, str]:
    """``(2025-03-14T09:26:53, 2025-03-14T09-26-53Z, 2025/03)`` for a second since the epoch.

    Cached: messages archived together were mostly written in the same few seconds, and
    formatting times was a visible share of the cost of archiving a message.
    """
    t = time.gmtime(seconds)
    date = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return (
        f"{date}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}",
        f"{date}T{t.tm_hour:02d}-{t.tm_min:02d}-{t.tm_sec:02d}Z",
        f"{t.tm_year:04d}/{t.tm_mon:02d}",
    )


def iso_time(micros: int) -> str:
    """An RFC 3339 UTC time with microseconds, e.g. ``2025-03-14T09:26:53.123456Z``."""
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_second(seconds)[0]}.{fraction:06d}Z"


def message_file_name(message: Message) -> str:
    """``<timestamp>__<subject-slug>__<id>.md``; the timestamp sorts, the id makes it unique."""
    stamp = _second(message.created_at // 1_000_000)[1]
    return f"{stamp}__{subject_slug(message.subject)}__{message.id}.md"


def project_root(slug: str) -> str:
    """The folder holding one project."""
    return f"{PROJECTS}/{slug}"


def message_paths(record: MessageRecord) -> tuple[str, ...]:
    """Every path of a message: its file first, then the outbox, inbox and thread views.

    Inbox views are made for to and cc recipients only (see the module docstring on bcc).
    """
    message = record.message
    name = message_file_name(message)
    month = _second(message.created_at // 1_000_000)[2]
    root = project_root(record.project_slug)
    paths = [
        f"{root}/messages/{month}/{name}",
        f"{root}/agents/{message.sender_name}/outbox/{month}/{name}",
    ]
    paths.extend(
        f"{root}/agents/{recipient}/inbox/{month}/{name}"
        for recipient in dict.fromkeys((*message.to, *message.cc))
    )
    paths.append(f"{root}/threads/{thread_folder(message.thread_id)}/{name}")
    return tuple(paths)


@functools.lru_cache(maxsize=4096)
def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax plus escapes YAML needs).

    Cached: most values (project, sender, recipients, topic) recur from message to message.
    """
    if _PLAIN.fullmatch(value):
        return f'"{value}"'
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _names(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(_quoted(name) for name in names) + "]"


def render_message(record: MessageRecord) -> bytes:
    """The message file: YAML front matter, a blank line, then the body. Never the bcc list."""
    message = record.message
    body = message.body or ""
    if body and not body.endswith("\n"):
        body += "\n"
    return (
        f"---\n"
        f"id: {message.id}\n"
        f"project: {_quoted(record.project_slug)}\n"
        f"thread: {_quoted(message.thread_id)}\n"
        f"from: {_quoted(message.sender_name)}\n"
        f"to: {_names(message.to)}\n"
        f"cc: {_names(message.cc)}\n"
        f"subject: {_quoted(message.subject)}\n"
        f"importance: {message.importance.name.lower()}\n"
        f"ack_required: {'true' if message.ack_required else 'false'}\n"
        f"topic: {_quoted(message.topic)}\n"
        f'created: "{iso_time(message.created_at)}"\n'
        f"---\n\n{body}"
    ).encode()


def _json(document: dict[str, str]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def profile_path(agent: Agent) -> str:
    """Where an agent's profile lives."""
    return f"{project_root(agent.project_slug)}/agents/{agent.name}/profile.json"


def render_profile(agent: Agent) -> bytes:
    """The agent's public profile as JSON (never its token)."""
    return _json(
        {
            "name": agent.name,
            "project": agent.project_slug,
            "program": agent.program,
            "model": agent.model,
            "task_description": agent.task_description,
            "registered": iso_time(agent.created_at),
            "updated": iso_time(agent.updated_at),
        }
    )


def project_path(project: Project) -> str:
    """Where a project's description lives."""
    return f"{project_root(project.slug)}/project.json"


def render_project(project: Project) -> bytes:
    """The project's slug, the key it was ensured with, and its creation time, as JSON."""
    return _json(
        {
            "slug": project.slug,
            "human_key": project.human_key,
            "created": iso_time(project.created_at),
        }
    )


def reservation_path(record: ReservationRecord) -> str:
    """Where a reservation lives: one file per reservation, rewritten as it changes (the
    history of its grants, renewals and release is the file's git history)."""
    return f"{project_root(record.project_slug)}/reservations/{record.reservation.id}.json"


def render_reservation(record: ReservationRecord) -> bytes:
    """The reservation as JSON: holder, pattern, exclusivity, reason and its times."""
    held = record.reservation
    released = held.released_at
    return (
        json.dumps(
            {
                "id": held.id,
                "project": record.project_slug,
                "agent": held.agent_name,
                "pattern": held.pattern,
                "exclusive": held.exclusive,
                "reason": held.reason,
                "created": iso_time(held.created_at),
                "updated": iso_time(held.updated_at),
                "expires": iso_time(held.expires_at),
                "released": iso_time(released) if released is not None else None,
                "released_by": held.released_by,
                "release_reason": held.release_reason,
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    ).encode()
