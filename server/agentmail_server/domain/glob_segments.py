"""One segment of a reservation pattern: its glob syntax, and whether two segments share a name.

A segment is the text between two slashes. Its glob syntax is git's (``wildmatch`` with
``WM_PATHNAME``): ``*`` is any run of characters, ``?`` one character, ``[...]`` one character
of a set (``[!...]`` or ``[^...]`` negated, ``a-z`` ranges, a ``]`` first in the set is
literal); every other character stands for itself. No wildcard ever matches ``/``, and a
segment never matches the empty name (so ``*`` alone means "any one name").

Characters are those a normalised path may hold: every code point except ``/``, the control
characters (Unicode Cc) and U+2028/U+2029. A set is kept as the sorted, disjoint code point
intervals it allows within that universe, so a negated set is just another interval list and
every set-against-set question is an interval merge.

Two segments *intersect* when some name matches both. With a literal on either side that is
one regular expression match; two globs are star patterns over characters (``*`` the star,
every other token an item consuming one character of its set) and go through
:mod:`star_sweep`, where two items are compatible when their intervals intersect. That costs
O(len(b)) big-integer steps plus one compatibility mask per distinct token of ``b``.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Mapping

from agentmail_server.domain.star_sweep import Move, Sweep, sweep, walk_back

CharSet = tuple[tuple[int, int], ...]
"""The code points a token may consume: sorted, disjoint, inclusive (lo, hi) intervals."""

Token = CharSet | None
"""One glob token: the set of characters it consumes, or None for ``*``."""

_MAX_CODE_POINT = 0x10FFFF
# Every character a path name may hold: no '/', no control character, no line separator.
PATH_CHARACTERS: CharSet = ((0x20, 0x2E), (0x30, 0x7E), (0xA0, 0x2027), (0x202A, _MAX_CODE_POINT))
# A witness prefers readable names: the first allowed character from 'a' on.
_PREFERRED = ord("a")
# Python's re warns (FutureWarning) about these inside a set, reserving them for set operations.
_SET_OPERATORS = ("--", "&&", "||", "~~")
_END: CharSet = ()


class GlobSyntaxError(ValueError):
    """A segment's glob cannot be parsed; the message says why (the caller adds the reason)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """One parsed segment of a pattern.

    Attributes:
        text: The segment as written (runs of ``*`` already collapsed by normalisation).
        tokens: Its glob tokens (empty for ``**``).
        recursive: It is ``**``: zero or more whole segments.
        wildcards: How many wildcards it holds (``*``, ``?``, a set of several characters, or
            ``**`` itself).
        literal: The name itself when the segment has no wildcard, else None.
        regex: For a glob, the expression whose ``fullmatch`` tells whether a name matches.
        stars: Bit k set when token k is ``*``.
        singles: For each character some token consumes alone, the bits of those tokens.
        sets: The bit and set of each token consuming one of several characters.
    """

    text: str
    tokens: tuple[Token, ...]
    recursive: bool
    wildcards: int
    literal: str | None
    regex: re.Pattern[str] | None
    stars: int = 0
    singles: Mapping[int, int] = dataclasses.field(default_factory=dict)
    sets: tuple[tuple[int, CharSet], ...] = ()


def parse_segment(text: str) -> Segment:
    """Parse one segment (no ``/``), ``**`` included.

    Raises:
        GlobSyntaxError: an unclosed ``[``, a ``[`` inside a set (nested sets and POSIX
            classes such as ``[:alpha:]``), a reversed range, or a doubled ``-&|~`` in a set.
    """
    if text == "**":
        return Segment(text, (), recursive=True, wildcards=1, literal=None, regex=None)
    tokens = _tokens(text)
    chars = [_single(token) for token in tokens]
    wildcards = chars.count("")
    if not wildcards:  # no wildcard, though perhaps a one-character set such as '[a]'
        literal = "".join(chars)
        return Segment(text, tokens, recursive=False, wildcards=0, literal=literal, regex=None)
    stars = 0
    singles: dict[int, int] = {}
    sets: list[tuple[int, CharSet]] = []
    for position, token in enumerate(tokens):
        bit = 1 << position
        if token is None:
            stars |= bit
        elif chars[position]:
            singles[token[0][0]] = singles.get(token[0][0], 0) | bit
        else:
            sets.append((bit, token))
    return Segment(
        text,
        tokens,
        recursive=False,
        wildcards=wildcards,
        literal=None,
        regex=_regex(tokens),
        stars=stars,
        singles=singles,
        sets=tuple(sets),
    )


def _single(token: Token) -> str:
    """The one character ``token`` consumes, or '' for a star or a set of several."""
    if token is None or len(token) != 1 or token[0][0] != token[0][1]:
        return ""
    return chr(token[0][0])


def _tokens(text: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if not tokens or tokens[-1] is not None:  # '**' inside a name is one '*'
                tokens.append(None)
            index += 1
        elif char == "?":
            tokens.append(PATH_CHARACTERS)
            index += 1
        elif char == "[":
            charset, index = _bracket(text, index)
            tokens.append(charset)
        else:
            tokens.append(((ord(char), ord(char)),))
            index += 1
    return tuple(tokens)


def _bracket(text: str, start: int) -> tuple[CharSet, int]:
    """Parse the set opening at ``text[start] == '['``: its characters and the index past ']'."""
    index = start + 1
    negated = index < len(text) and text[index] in "!^"
    if negated:
        index += 1
    intervals: list[tuple[int, int]] = []
    first = True
    while True:
        if index >= len(text):
            raise GlobSyntaxError(f"'[' at index {start} has no closing ']'")
        char = text[index]
        if char == "]" and not first:
            break
        first = False
        if char == "[":
            raise GlobSyntaxError(
                f"'[' inside the set at index {start}: nested sets and classes such as"
                " [:alpha:] are not supported"
            )
        # git's rule: 'x-y' is a range unless '-' is last; after a range, '-' is literal.
        if index + 2 < len(text) and text[index + 1] == "-" and text[index + 2] != "]":
            low, high = char, text[index + 2]
            if high == "[":
                raise GlobSyntaxError(f"'[' inside the set at index {start}")
            if low > high:
                raise GlobSyntaxError(f"range {low}-{high} at index {index} is reversed")
            intervals.append((ord(low), ord(high)))
            index += 3
        else:
            intervals.append((ord(char), ord(char)))
            index += 1
    body = text[start + 1 : index]
    if any(operator in body for operator in _SET_OPERATORS):
        raise GlobSyntaxError(
            f"the set at index {start} holds a doubled '-', '&', '|' or '~', which is ambiguous"
        )
    allowed = _merge(intervals)
    charset = _complement(allowed) if negated else _intersect(allowed, PATH_CHARACTERS)
    if not charset:  # a negated set excluding every character a name may hold
        raise GlobSyntaxError(f"the set at index {start} matches no character")
    return charset, index + 1


def _merge(intervals: list[tuple[int, int]]) -> CharSet:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _complement(charset: CharSet) -> CharSet:
    gaps: list[tuple[int, int]] = []
    next_low = 0
    for low, high in charset:
        if low > next_low:
            gaps.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= _MAX_CODE_POINT:
        gaps.append((next_low, _MAX_CODE_POINT))
    return _intersect(tuple(gaps), PATH_CHARACTERS)


def _intersect(left: CharSet, right: CharSet) -> CharSet:
    """The intervals in both (a merge walk over two sorted interval lists)."""
    common: list[tuple[int, int]] = []
    i = j = 0
    while i < len(left) and j < len(right):
        low = max(left[i][0], right[j][0])
        high = min(left[i][1], right[j][1])
        if low <= high:
            common.append((low, high))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return tuple(common)


def _pick(charset: CharSet) -> str:
    """One character of a non-empty set, the first from 'a' on when there is one."""
    for low, high in charset:
        if high >= _PREFERRED:
            return chr(max(low, _PREFERRED))
    return chr(charset[0][0])


def _regex(tokens: tuple[Token, ...]) -> re.Pattern[str]:
    parts: list[str] = []
    for token in tokens:
        if token is None:
            parts.append("[^/]*")
        else:
            ranges = "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in token)
            parts.append(f"[{ranges}]")
    return re.compile("".join(parts))


def example_name(segment: Segment) -> str:
    """A name ``segment`` (not ``**``) matches: its literal, or one spelt from its tokens."""
    if segment.literal is not None:
        return segment.literal
    name = "".join("" if token is None else _pick(token) for token in segment.tokens)
    return name or _pick(PATH_CHARACTERS)  # the segment is '*': any one name


def names_intersect(left: Segment, right: Segment) -> bool:
    """Whether some name matches both segments (neither ``**``)."""
    if left.literal is not None and right.literal is not None:
        return left.literal == right.literal
    if left.literal is not None:
        assert right.regex is not None
        return right.regex.fullmatch(left.literal) is not None
    if right.literal is not None:
        assert left.regex is not None
        return left.regex.fullmatch(right.literal) is not None
    return _sweep(left, right).reached(len(left.tokens), len(right.tokens))


def common_name(left: Segment, right: Segment) -> str | None:
    """A name both segments (neither ``**``) match, or None when there is none."""
    if left.literal is not None or right.literal is not None:
        if not names_intersect(left, right):
            return None
        return left.literal if left.literal is not None else right.literal
    result = _sweep(left, right)
    if not result.reached(len(left.tokens), len(right.tokens)):
        return None
    chars: list[str] = []
    for step in walk_back(result, len(left.tokens), len(right.tokens)):
        mine, theirs = left.tokens[step.left], right.tokens[step.right]
        if step.move is Move.BOTH:
            assert mine is not None and theirs is not None
            chars.append(_pick(_intersect(mine, theirs)))
        else:
            token = mine if step.move is Move.LEFT else theirs
            assert token is not None
            chars.append(_pick(token))
    return "".join(chars) or _pick(PATH_CHARACTERS)  # both are '*': any one name


def _sweep(left: Segment, right: Segment) -> Sweep:
    masks: dict[CharSet, int] = {}

    def compatible(j: int) -> int:
        token = right.tokens[j]
        assert token is not None
        mask = masks.get(token)
        if mask is None:
            mask = masks[token] = _compatible(left, token)
        return mask

    return sweep(len(left.tokens), left.stars, [t is None for t in right.tokens], compatible)


def _compatible(segment: Segment, charset: CharSet) -> int:
    """The bits of ``segment``'s tokens that can consume a character of ``charset``."""
    if len(charset) == 1 and charset[0][0] == charset[0][1]:
        code_point = charset[0][0]
        mask = segment.singles.get(code_point, 0)
        for bit, token in segment.sets:
            if _contains(token, code_point):
                mask |= bit
        return mask
    mask = 0
    for code_point, bits in segment.singles.items():
        if _contains(charset, code_point):
            mask |= bits
    for bit, token in segment.sets:
        if _intersect(token, charset):
            mask |= bit
    return mask


def _contains(charset: CharSet, code_point: int) -> bool:
    index = bisect.bisect_right(charset, (code_point, _MAX_CODE_POINT)) - 1
    return index >= 0 and charset[index][0] <= code_point <= charset[index][1]
