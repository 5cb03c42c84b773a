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

What a pattern covers (gitignore): a pattern with a slash other than a trailing one is anchored
at the root, else it matches at any depth (``*.py`` is ``**/*.py``); ``**`` is zero or more
whole segments; and everything below a matched path is covered too (``docs`` and ``docs/``
cover ``docs/a/b.md``). Any matched path may be a directory, so a pattern without a slash
overlaps every path pattern: ``*.md`` and ``src/a.py`` both cover ``src/a.py/x.md``. That is
what gitignore (and so pathspec) says, and it never misses a real conflict; patterns meant to
stay apart should be anchored (``docs/*.md``). Paths are matched by pathspec
(:func:`matches_path`), except that a set (``[!x]``, ``[+-0]``) never matches '/', as in git.
Resources match only themselves, exactly and case-sensitively, and never a path. Paths are
case-sensitive too.

Overlap (:func:`overlaps`) asks whether some path is covered by both patterns. Each pattern
is compiled once to its segments (``**`` prepended when unanchored, the implied trailing ``**``
dropped) and the two segment lists are swept together (:mod:`segment_paths`), two segments
being compatible when some name matches both (:mod:`glob_segments`); both levels are the same
bit-parallel sweep over the product of two star patterns (:mod:`star_sweep`). The work is
O(n + m) big-integer steps over the segments, plus for each pair of segments compared (a
literal against a glob, or two globs: at most :data:`MAX_WILDCARDS` squared pairs of globs) a
regular-expression match or a sweep over characters linear in the segments' lengths. A pattern
is at most :data:`MAX_PATTERN_CHARS` long, so no pair of patterns takes long (milliseconds for
the worst pairs found, microseconds for everyday ones). :func:`common_path` walks back through
the sweep to spell a path both cover.
"""

from __future__ import annotations

import dataclasses
import re

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from agentmail_server.domain import segment_paths
from agentmail_server.domain.glob_segments import GlobSyntaxError, Segment, parse_segment
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
        path: The overlap model: the segments, ``**`` first when unanchored, with the
            implied trailing ``**`` dropped, indexed (None for a resource).
        regex: pathspec's expression for the pattern (None for a resource).
    """

    text: str
    resource: bool
    root: str | None = dataclasses.field(compare=False)
    path: SegmentPath | None = dataclasses.field(compare=False, repr=False)
    regex: re.Pattern[str] | None = dataclasses.field(compare=False, repr=False)


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
    segments = list(parsed.segments)
    if len(segments) == 1 and not segments[0].recursive:
        segments.insert(0, parse_segment("**"))  # no slash: matches at any depth
    while segments and segments[-1].recursive:
        segments.pop()  # everything below a match is covered anyway
    first = segments[0] if segments else None
    root = first.literal if first is not None else None
    path = segment_path(tuple(segments))
    return Pattern(parsed.text, False, root, path, _pathspec_regex(parsed.text))


def matches_path(pattern: Pattern, path: str) -> bool:
    """Whether ``pattern`` covers ``path``, a path in normal form (see :func:`normalize_path`).

    A path may name a directory: it is covered when it, or the directory it names as a whole,
    is (``docs/`` covers ``docs`` as well as ``docs/a.md``).
    """
    if pattern.resource:
        return path == pattern.text
    if pattern.regex is None or is_resource(path):
        return False
    return pattern.regex.search(path) is not None or pattern.regex.search(path + "/") is not None


def overlaps(a: Pattern, b: Pattern) -> bool:
    """Whether some path (or resource) is covered by both patterns; symmetric."""
    if a.path is None or b.path is None:
        return a.resource and b.resource and a.text == b.text
    if a.root is not None and b.root is not None and a.root != b.root:
        return False
    return segment_paths.paths_overlap(a.path, b.path)


def common_path(a: Pattern, b: Pattern) -> str | None:
    """An example path (or the resource) both patterns cover, or None when they do not overlap.

    The example may hold characters a real file name would not (say, a space); it is for
    messages and tests.
    """
    if a.path is None or b.path is None:
        return a.text if a.resource and b.resource and a.text == b.text else None
    if a.root is not None and b.root is not None and a.root != b.root:
        return None
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
