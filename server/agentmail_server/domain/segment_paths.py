"""Path patterns as sequences of segments, and whether two of them cover a common path.

A path pattern covers the paths it matches and everything below them. So two patterns share a
covered path exactly when they match two paths one of which is a prefix (in whole segments) of
the other: the longer one is then covered by both. In :mod:`star_sweep` terms a pattern is a
star pattern over segment names (``**`` the star, every other segment an item), and the
question is whether some state with either side used up is reachable; the rest of the other
side is always satisfiable (every segment matches some name), so such a state is a success.

Two segments are compatible when some name matches both (:mod:`glob_segments`). The mask of
left segments compatible with one right segment comes from an index built once per pattern:
literal segments looked up by name, globs tested one by one (a pattern holds few: the wildcard
limit). Right segments with the same text share their mask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from agentmail_server.domain.glob_segments import (
    Segment,
    common_name,
    example_name,
    names_intersect,
)
from agentmail_server.domain.star_sweep import Move, Sweep, sweep, walk_back


@dataclasses.dataclass(frozen=True, slots=True)
class SegmentPath:
    """A path pattern's segments, indexed for overlap.

    Attributes:
        segments: The segments: ``**`` first when the pattern matches at any depth, the
            implied trailing ``**`` dropped (none left: every path is covered).
        stars: Bit i set when segment i is ``**``.
        literals: For each literal segment name, the bits of the segments with that name.
        globs: The bit and segment of each segment with wildcards (``**`` aside).
        names: The names when every segment is literal (the everyday case, compared directly),
            else None.
    """

    segments: tuple[Segment, ...]
    stars: int
    literals: Mapping[str, int]
    globs: tuple[tuple[int, Segment], ...]
    names: tuple[str, ...] | None


def segment_path(segments: tuple[Segment, ...]) -> SegmentPath:
    """Index ``segments`` (already anchored, trailing ``**`` dropped, no two ``**`` adjacent)."""
    stars = 0
    literals: dict[str, int] = {}
    globs: list[tuple[int, Segment]] = []
    for position, segment in enumerate(segments):
        bit = 1 << position
        if segment.recursive:
            stars |= bit
        elif segment.literal is not None:
            literals[segment.literal] = literals.get(segment.literal, 0) | bit
        else:
            globs.append((bit, segment))
    names = tuple(segment.literal or "" for segment in segments)
    plain = not stars and not globs and bool(segments)
    return SegmentPath(segments, stars, literals, tuple(globs), names if plain else None)


def paths_overlap(left: SegmentPath, right: SegmentPath) -> bool:
    """Whether some path is covered by both patterns."""
    if left.names is not None and right.names is not None:
        shorter = min(len(left.names), len(right.names))
        return left.names[:shorter] == right.names[:shorter]
    return _success(left, right, _sweep(left, right)) is not None


def common_path(left: SegmentPath, right: SegmentPath) -> str | None:
    """A path both patterns cover, or None when there is none."""
    if left.names is not None and right.names is not None:
        if not paths_overlap(left, right):
            return None
        longer = left.names if len(left.names) >= len(right.names) else right.names
        return "/".join(longer)
    result = _sweep(left, right)
    end = _success(left, right, result)
    if end is None:
        return None
    k, j = end
    names: list[str] = []
    for step in walk_back(result, k, j):
        mine, theirs = left.segments[step.left], right.segments[step.right]
        if step.move is Move.BOTH:
            name = common_name(mine, theirs)
            assert name is not None  # the sweep found them compatible
            names.append(name)
        else:
            names.append(example_name(mine if step.move is Move.LEFT else theirs))
    rest = left.segments[k:] if j == len(right.segments) else right.segments[j:]
    names.extend(example_name(segment) for segment in rest if not segment.recursive)
    return "/".join(names) or "a"  # both patterns cover every path


def _sweep(left: SegmentPath, right: SegmentPath) -> Sweep:
    masks: dict[str, int] = {}

    def compatible(j: int) -> int:
        segment = right.segments[j]
        mask = masks.get(segment.text)
        if mask is None:
            mask = masks[segment.text] = _compatible(left, segment)
        return mask

    stars = [segment.recursive for segment in right.segments]
    return sweep(len(left.segments), left.stars, stars, compatible)


def _compatible(path: SegmentPath, segment: Segment) -> int:
    """The bits of ``path``'s segments that share a name with ``segment`` (not ``**``)."""
    if segment.literal is not None:
        mask = path.literals.get(segment.literal, 0)
    else:
        assert segment.regex is not None
        mask = 0
        for name, bits in path.literals.items():
            if segment.regex.fullmatch(name):
                mask |= bits
    for bit, glob in path.globs:
        if names_intersect(glob, segment):
            mask |= bit
    return mask


def _success(left: SegmentPath, right: SegmentPath, result: Sweep) -> tuple[int, int] | None:
    """A reachable state with a side used up, or None: left used up first, as early as can be."""
    done = len(left.segments)
    for j, column in enumerate(result.columns):
        if (column >> done) & 1:
            return done, j
    if len(result.columns) == len(right.segments) + 1:
        last = result.columns[-1]
        if last:
            return (last & -last).bit_length() - 1, len(right.segments)
    return None
