"""What a path pattern covers when reservations name files, and the directories it proves.

Rule 1, files. A *directory pattern* ends with ``/`` (``docs/``) or with a ``**`` segment
(``docs/**``) and covers every file below what it names. Any other pattern is a *file
pattern*: it covers the files its segments match, the last one matching the file's own name,
at any depth when the pattern has no slash (``*.md`` is ``**/*.md``). So ``*.md`` covers
``docs/a.md`` but not ``src/a.py``: unlike gitignore, a file pattern's match is not taken to
be a directory that might hold anything. In that model each pattern is a star pattern over
segment names whose words are exactly the files it covers (:func:`covered_files`), and two
patterns share a file when those star patterns share a word (:mod:`segment_paths`).

Rule 2, ancestors ("exact, glob and ancestor", as the reservation system agents use today
has it). A *bare* pattern (a file pattern without wildcards: ``src``, ``src/lib``) may still
be meant as a directory, and it conflicts with any pattern that literally proves so: one
whose anchored, wildcard-free leading segments name a directory the bare pattern matches.
Those leading segments are the pattern's *proven directories* (:class:`Ancestry`): every file
it covers lies below each of them. ``src/a.py``, ``src/**/*.py`` and ``src/**`` prove ``src``;
``src/lib/x/*.ts`` proves ``src``, ``src/lib`` and ``src/lib/x``; an unanchored pattern
(``*.md``, ``a.py``, ``docs/``) proves nothing, so ``src`` and ``*.md`` do not conflict. A
bare pattern matches a proven directory the way it would match a path: ``src/lib`` only
``src/lib``; the slash-less ``lib`` any directory named ``lib`` (``src/lib`` too). To cover a
directory's contents against every pattern, reserve ``src/`` or ``src/**``.
"""

from __future__ import annotations

import dataclasses
import itertools

from agentmail_server.domain.glob_segments import Segment, parse_segment

_RECURSIVE = parse_segment("**")
_ANY_NAME = parse_segment("*")


@dataclasses.dataclass(frozen=True, slots=True)
class Ancestry:
    """What a path pattern says about directories, for the ancestor rule.

    Attributes:
        bare: The names of a bare pattern (a file pattern without wildcards), else None.
        anchored: The pattern is anchored at the root (it has a slash other than a trailing
            one, or starts with ``**``); a slash-less bare name matches at any depth.
        directories: The proven directories, as names from the root: the anchored pattern's
            wildcard-free leading segments below which every file it covers lies (empty for an
            unanchored pattern).
    """

    bare: tuple[str, ...] | None
    anchored: bool
    directories: tuple[str, ...]


def is_directory(segments: tuple[Segment, ...], trailing_slash: bool) -> bool:
    """Whether the pattern (its parsed segments, as written) is a directory pattern."""
    return trailing_slash or segments[-1].recursive


def is_anchored(segments: tuple[Segment, ...]) -> bool:
    """Whether the pattern matches from the root (gitignore: a slash other than a trailing one;
    a lone ``**`` matches from the root anyway)."""
    return len(segments) > 1 or segments[0].recursive


def covered_files(segments: tuple[Segment, ...], trailing_slash: bool) -> tuple[Segment, ...]:
    """The star pattern over names (``**`` the star) whose words are the files covered.

    A file pattern is its segments, ``**`` first when unanchored. A directory pattern is the
    directory it names followed by ``*/**`` (one name or more below it); the directory named
    by a trailing ``**`` is the part before it, except for ``**/``, which names any directory
    but never the root, so ``*`` stands for it.
    """
    model = list(segments) if is_anchored(segments) else [_RECURSIVE, *segments]
    if not is_directory(segments, trailing_slash):
        return tuple(model)
    if model[-1].recursive:
        model.pop()  # what follows adds '**' again, and stars must not be adjacent
        if not model and trailing_slash:
            model.append(_ANY_NAME)
    return (*model, _ANY_NAME, _RECURSIVE)


def ancestry(segments: tuple[Segment, ...], trailing_slash: bool) -> Ancestry:
    """The pattern's bare names and proven directories (see :class:`Ancestry`)."""
    directory = is_directory(segments, trailing_slash)
    literals = [segment.literal for segment in segments]
    bare = None if directory or None in literals else tuple(name or "" for name in literals)
    anchored = is_anchored(segments)
    if not anchored:
        return Ancestry(bare, anchored, ())
    leading = [name for name in itertools.takewhile(lambda name: name is not None, literals)]
    if not directory and len(leading) == len(segments):
        leading.pop()  # a bare file pattern's last name is the file, not a directory
    return Ancestry(bare, anchored, tuple(name or "" for name in leading))


def names_a_proven_directory(bare: Ancestry, other: Ancestry) -> bool:
    """Whether ``bare`` is a bare pattern matching one of ``other``'s proven directories."""
    if bare.bare is None or not other.directories:
        return False
    if not bare.anchored:
        return bare.bare[0] in other.directories
    return other.directories[: len(bare.bare)] == bare.bare
