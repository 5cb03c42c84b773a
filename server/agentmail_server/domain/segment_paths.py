"""Path patterns as star patterns over segment names, and whether two of them share a path.

A path pattern here is the star pattern whose words are exactly the paths it covers (the file
model of :mod:`pattern_coverage`): in :mod:`star_sweep` terms ``**`` is the star and every other
segment an item consuming one name. Two patterns share a path when the sweep over their product
reaches the state where both are used up; walking back from that state spells the path.

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
        segments: The segments (at least one item; ``**`` the star).
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
    """Index ``segments`` (not empty, no two ``**`` adjacent)."""
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
    """Whether some path is a word of both patterns."""
    if left.names is not None and right.names is not None:
        return left.names == right.names
    return _sweep(left, right).reached(len(left.segments), len(right.segments))


def common_path(left: SegmentPath, right: SegmentPath) -> str | None:
    """A path both patterns match, or None when there is none."""
    if left.names is not None and right.names is not None:
        return "/".join(left.names) if left.names == right.names else None
    result = _sweep(left, right)
    if not result.reached(len(left.segments), len(right.segments)):
        return None
    names: list[str] = []
    for step in walk_back(result, len(left.segments), len(right.segments)):
        mine, theirs = left.segments[step.left], right.segments[step.right]
        if step.move is Move.BOTH:
            name = common_name(mine, theirs)
            assert name is not None  # the sweep found them compatible
            names.append(name)
        else:
            names.append(example_name(mine if step.move is Move.LEFT else theirs))
    assert names, "a pattern holds an item, so a shared path has a name"
    return "/".join(names)


def example_path(path: SegmentPath) -> str:
    """A path the pattern matches: an example name for each item, every ``**`` left empty."""
    return "/".join(example_name(segment) for segment in path.segments if not segment.recursive)


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
