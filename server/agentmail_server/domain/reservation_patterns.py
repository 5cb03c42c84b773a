"""What a file reservation covers: pattern normalisation, path matching and pattern overlap.

A reservation names files with a gitignore pattern relative to the project root, or a
*resource* (a name with a scheme: ``tool://lint``, ``service://db``).

Normal form (:func:`normalize`). Surrounding whitespace is trimmed and a resource is kept
verbatim. In a path pattern ``\\`` becomes ``/``, empty and ``.`` segments go (so leading
``./`` and ``/`` and doubled slashes), runs of ``*`` inside a name become one ``*`` and
repeated ``**`` segments one ``**``; a trailing ``/`` (directory) is kept. Rejected, with a
stable :attr:`PatternError.reason`: empty, longer than :data:`MAX_PATTERN_CHARS`, control
characters, ``..`` segments, negation (``!x``), malformed sets, more than
:data:`MAX_WILDCARDS` wildcards, and a resource with nothing after its scheme. Because ``/`` is
stripped, ``/README.md`` is ``README.md``, which gitignore matches at any depth: a reservation
covers at least what was meant, never less. ``\\`` being a separator, there is no escaping: a
``*``, ``?`` or ``[`` in a pattern is always a wildcard (``#`` at the start is literal here,
not a comment).

Syntax is gitignore's: a pattern with a slash other than a trailing one is anchored at the
root, else it matches at any depth (``*.py`` is ``**/*.py``); ``**`` is zero or more whole
segments; a set (``[!x]``, ``[+-0]``) never matches '/', as in git. Resources match only
themselves, exactly and case-sensitively, and never a path. Paths are case-sensitive too.

Two patterns (:func:`overlaps`): reservations are advisory leases on *files*, and two agents
reserving different kinds of file in one tree (``src/**/*.py`` and ``src/**/*.ts``) must not
clash. gitignore would let any matched path be a directory holding anything, so ``*.md`` would
overlap every path pattern (through ``src/a.py/x.md``); that is why patterns here name files
unless marked as directories (:mod:`pattern_coverage` has the details):

1. A *directory pattern* ends with ``/`` or with a ``**`` segment (``docs/``, ``docs/**``) and
   covers every file below what it names. Any other pattern covers the files its last segment
   matches as a name. Two patterns overlap when some file is covered by both: ``*.md`` and
   ``src/a.py`` do not, nor ``src/**/*.py`` and ``src/**/*.ts``; ``*.py`` and ``src/*.py`` do,
   as do ``docs/`` and ``docs/**/x.md``, ``src/**`` and ``src/a.py``, ``*.md`` and ``docs/``.
2. Ancestors: a *bare* pattern (no wildcard, no trailing slash: ``src``, ``src/lib``) also
   overlaps a pattern whose anchored, wildcard-free leading segments name a directory it
   matches: ``src`` and ``src/a.py``, ``src`` and ``src/**/*.py``, ``src/lib`` and
   ``src/lib/x/*.ts`` overlap. An unanchored pattern names no directory literally, so ``src``
   and ``*.md`` do not overlap, nor ``src/a.py`` and ``*.md``. To cover a directory's contents
   against every pattern, reserve ``src/`` or ``src/**``.

A path checked against a pattern (:func:`matches_path`, for real files) keeps gitignore's
reading instead: a real path below ``src/a.py/`` proves ``src/a.py`` a directory, so it is
covered.

How overlap is decided. Each pattern is compiled once to the star pattern over
names whose words are the files it covers (``**`` the star) and to its bare names and proven
directories. The ancestor rule is a comparison of literal names; the file rule sweeps the two
star patterns together (:mod:`segment_paths`), two segments being compatible when some name
matches both (:mod:`glob_segments`); both levels are the same bit-parallel sweep over the
product of two star patterns (:mod:`star_sweep`). The work is O(n + m) big-integer steps over
the segments, plus for each pair of segments compared (a literal against a glob, or two globs:
at most :data:`MAX_WILDCARDS` squared pairs of globs) a regular-expression match or a sweep
over characters linear in the segments' lengths. A pattern is at most
:data:`MAX_PATTERN_CHARS` long, so no pair of patterns takes long (milliseconds for the worst
pairs found, microseconds for everyday ones). :func:`common_path` walks back through the sweep
to spell a file both cover (or, for the ancestor rule, a file the other pattern covers).
"""

from __future__ import annotations

import dataclasses
import re

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from agentmail_server.domain import pattern_coverage, segment_paths
from agentmail_server.domain.glob_segments import GlobSyntaxError, Segment, parse_segment
from agentmail_server.domain.pattern_coverage import Ancestry
from agentmail_server.domain.segment_paths import SegmentPath, segment_path

MAX_PATTERN_CHARS = 512
# '*', '?', '[...]' and '**' in one pattern: far more than any real reservation needs, few
# enough that no pair of patterns makes the overlap search slow.
MAX_WILDCARDS = 32
# How much of the caller's text an error message quotes.
_QUOTE_CHARS = 40

EMPTY_PATTERN = "EMPTY_PATTERN"
PATTERN_TOO_LONG = "PATTERN_TOO_LONG"
CONTROL_CHARACTER = "CONTROL_CHARACTER"
PARENT_REFERENCE = "PARENT_REFERENCE"
NEGATED_PATTERN = "NEGATED_PATTERN"
MALFORMED_PATTERN = "MALFORMED_PATTERN"
TOO_MANY_WILDCARDS = "TOO_MANY_WILDCARDS"
NOT_NORMALIZED = "NOT_NORMALIZED"
REASONS = frozenset(
    {
        EMPTY_PATTERN,
        PATTERN_TOO_LONG,
        CONTROL_CHARACTER,
        PARENT_REFERENCE,
        NEGATED_PATTERN,
        MALFORMED_PATTERN,
        TOO_MANY_WILDCARDS,
        NOT_NORMALIZED,
    }
)
"""Every :attr:`PatternError.reason`."""

_RESOURCE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# The same characters limits.check_characters refuses in single-line text.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_STAR_RUN = re.compile(r"\*{2,}")


class PatternError(ValueError):
    """A pattern (or path) that cannot be a reservation.

    Attributes:
        reason: Stable UPPER_SNAKE cause, one of EMPTY_PATTERN, PATTERN_TOO_LONG,
            CONTROL_CHARACTER, PARENT_REFERENCE, NEGATED_PATTERN, MALFORMED_PATTERN,
            TOO_MANY_WILDCARDS, or NOT_NORMALIZED (:func:`compile_pattern` given raw text).
        message: What is wrong, for a human; quotes at most a short part of the input.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class Pattern:
    """A normalised pattern, compiled once; equal when their texts are.

    Attributes:
        text: The normal form (what is stored and shown).
        resource: It is a resource name, not a path pattern.
        root: For an anchored path pattern whose first segment has no wildcard, that segment:
            patterns with different roots never overlap (an index key); else None.
        path: The files it covers, as a star pattern over names, indexed (None for a
            resource; see :func:`pattern_coverage.covered_files`).
        regex: pathspec's expression for the pattern (None for a resource).
        ancestry: Its bare names and proven directories, for the ancestor rule (None for a
            resource).
    """

    text: str
    resource: bool
    root: str | None = dataclasses.field(compare=False)
    path: SegmentPath | None = dataclasses.field(compare=False, repr=False)
    regex: re.Pattern[str] | None = dataclasses.field(compare=False, repr=False)
    ancestry: Ancestry | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class _Parsed:
    text: str
    resource: bool
    segments: tuple[Segment, ...]


def is_resource(pattern: str) -> bool:
    """Whether ``pattern`` names a resource: it starts with a scheme and ``://``."""
    return _RESOURCE.match(pattern) is not None


def normalize(raw: str) -> str:
    """The normal form of a reservation pattern (see the module docstring).

    Raises:
        PatternError: the pattern cannot be a reservation (its ``reason`` says why).
    """
    return _parse(raw).text


def normalize_path(raw: str) -> str:
    """The normal form of a path to check, whose ``*``, ``?`` and ``[`` are plain characters.

    Like :func:`normalize` for separators, ``.`` and ``..``, without the glob rules; a trailing
    ``/`` is dropped. A resource is kept verbatim.

    Raises:
        PatternError: empty, too long, control characters, or a ``..`` segment.
    """
    text = _checked_text(raw)
    if is_resource(text):
        return text
    return "/".join(_path_parts(text)[0])


def compile_pattern(normalized: str) -> Pattern:
    """Compile a pattern already in normal form (as :func:`normalize` returned it).

    Raises:
        PatternError: NOT_NORMALIZED when ``normalized`` is not in normal form, or why the
            text cannot be a pattern at all.
    """
    parsed = _parse(normalized)
    if parsed.text != normalized:
        raise PatternError(
            NOT_NORMALIZED, f"pattern {_quote(normalized)} is not in normal form; normalize it"
        )
    if parsed.resource:
        return Pattern(parsed.text, resource=True, root=None, path=None, regex=None)
    segments, slash = parsed.segments, parsed.text.endswith("/")
    first = segments[0] if pattern_coverage.is_anchored(segments) else None
    files = segment_path(pattern_coverage.covered_files(segments, slash))
    return Pattern(
        parsed.text,
        resource=False,
        root=first.literal if first is not None else None,
        path=files,
        regex=_pathspec_regex(parsed.text),
        ancestry=pattern_coverage.ancestry(segments, slash),
    )


def matches_path(pattern: Pattern, path: str) -> bool:
    """Whether ``pattern`` covers ``path``, a real path in normal form (see :func:`normalize_path`).

    Unlike :func:`overlaps`, this keeps gitignore's reading: a path is covered when it, or a
    directory above it, matches (``docs/`` covers ``docs`` and ``docs/a.md``; ``src/a.py``
    covers ``src/a.py/x``, and ``*.md`` covers ``src/a.py/x.md``): a real path below
    ``src/a.py/`` is evidence that ``src/a.py`` is a directory.
    """
    if pattern.resource:
        return path == pattern.text
    if pattern.regex is None or is_resource(path):
        return False
    return pattern.regex.search(path) is not None or pattern.regex.search(path + "/") is not None


def overlaps(a: Pattern, b: Pattern) -> bool:
    """Whether both patterns cover a common file, or one is a bare path naming a directory the
    other's literal leading segments prove (the ancestor rule); resources only when equal.
    Symmetric."""
    if a.path is None or b.path is None or a.ancestry is None or b.ancestry is None:
        return a.resource and b.resource and a.text == b.text
    if a.root is not None and b.root is not None and a.root != b.root:
        return False
    return (
        pattern_coverage.names_a_proven_directory(a.ancestry, b.ancestry)
        or pattern_coverage.names_a_proven_directory(b.ancestry, a.ancestry)
        or segment_paths.paths_overlap(a.path, b.path)
    )


def common_path(a: Pattern, b: Pattern) -> str | None:
    """An example showing that the patterns overlap, or None when they do not.

    For the ancestor rule, a file the other pattern covers (below the bare path's directory);
    else a file both cover; for resources, the resource. The example may hold characters a real
    file name would not (say, a space); it is for messages and tests.
    """
    if a.path is None or b.path is None or a.ancestry is None or b.ancestry is None:
        return a.text if a.resource and b.resource and a.text == b.text else None
    if a.root is not None and b.root is not None and a.root != b.root:
        return None
    if pattern_coverage.names_a_proven_directory(a.ancestry, b.ancestry):
        return segment_paths.example_path(b.path)
    if pattern_coverage.names_a_proven_directory(b.ancestry, a.ancestry):
        return segment_paths.example_path(a.path)
    return segment_paths.common_path(a.path, b.path)


def _parse(raw: str) -> _Parsed:
    text = _checked_text(raw)
    if is_resource(text):
        scheme_end = text.index("://") + 3
        if scheme_end == len(text):
            raise PatternError(MALFORMED_PATTERN, f"resource {_quote(text)} names nothing")
        return _Parsed(text, resource=True, segments=())
    names, directory = _path_parts(text)
    names = [name if name == "**" else _STAR_RUN.sub("*", name) for name in names]
    names = [
        name for k, name in enumerate(names) if not (name == "**" and names[k - 1 : k] == ["**"])
    ]
    normal = "/".join(names) + ("/" if directory else "")
    if normal.startswith("!"):
        raise PatternError(
            NEGATED_PATTERN, f"pattern {_quote(normal)}: negation ('!') cannot be reserved"
        )
    segments: list[Segment] = []
    for name in names:
        try:
            segments.append(parse_segment(name))
        except GlobSyntaxError as error:
            raise PatternError(
                MALFORMED_PATTERN, f"pattern segment {_quote(name)}: {error}"
            ) from None
    wildcards = sum(segment.wildcards for segment in segments)
    if wildcards > MAX_WILDCARDS:
        raise PatternError(
            TOO_MANY_WILDCARDS,
            f"pattern has {wildcards} wildcards; at most {MAX_WILDCARDS} are allowed",
        )
    return _Parsed(normal, resource=False, segments=tuple(segments))


def _checked_text(raw: str) -> str:
    """``raw`` without surrounding whitespace, after the checks patterns and paths share."""
    if len(raw) > MAX_PATTERN_CHARS:
        raise PatternError(
            PATTERN_TOO_LONG,
            f"must be at most {MAX_PATTERN_CHARS} characters (got {len(raw)})",
        )
    found = _FORBIDDEN.search(raw)
    if found is not None:
        raise PatternError(
            CONTROL_CHARACTER,
            f"must not hold control characters (found U+{ord(found.group()):04X}"
            f" at index {found.start()})",
        )
    text = raw.strip()
    if not text:
        raise PatternError(EMPTY_PATTERN, "must not be empty")
    return text


def _path_parts(text: str) -> tuple[list[str], bool]:
    """The names of a path or path pattern, and whether it ends as a directory ('/' or '/.').

    Whitespace the separators exposed at either end is trimmed too (``/ a`` is ``a``), so that
    the normal form is a fixed point.
    """
    while True:
        parts = text.replace("\\", "/").split("/")
        names = [part for part in parts if part not in ("", ".")]
        if ".." in names:
            raise PatternError(
                PARENT_REFERENCE, f"{_quote(text)} must not leave the project root ('..')"
            )
        if not names:
            raise PatternError(EMPTY_PATTERN, f"{_quote(text)} names no path")
        directory = parts[-1] in ("", ".")
        joined = "/".join(names) + ("/" if directory else "")
        if joined == joined.strip():
            return names, directory
        text = joined.strip()


def _pathspec_regex(text: str) -> re.Pattern[str]:
    """pathspec's expression for a path pattern in normal form, with sets kept off '/'.

    A leading '#' is escaped (gitignore would read a comment). pathspec turns ``[!x]`` into
    ``[^x]``, which also matches '/', and a range may span '/': git's wildmatch never lets a
    set match '/', so every set of the pattern is prefixed with ``(?!/)``. pathspec escapes
    every literal character and a set never holds '[' (normalisation refuses it), so each
    unescaped '[' in its output opens a set: the pattern's own, or pathspec's ``[^/]`` for
    ``*`` and ``?``, which needs no guard (and, quantified, must not have one).
    """
    compiled = GitIgnoreSpecPattern("\\" + text if text.startswith("#") else text)
    source = compiled.regex.pattern if compiled.regex is not None else None
    if not isinstance(source, str):  # cannot happen after normalisation: be loud if it does
        raise PatternError(MALFORMED_PATTERN, f"pattern {_quote(text)} matches nothing")
    guarded: list[str] = []
    escaped = False
    for index, char in enumerate(source):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[" and not source.startswith("[^/]", index):
            guarded.append("(?!/)")
        guarded.append(char)
    return re.compile("".join(guarded))


def _quote(text: str) -> str:
    """``text`` quoted for a message, cut to a few dozen characters."""
    if len(text) <= _QUOTE_CHARS:
        return repr(text)
    return repr(text[:_QUOTE_CHARS]) + "..."
