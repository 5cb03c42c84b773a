"""Whether two star patterns share a word: a bit-parallel sweep over their product, and a witness.

Both levels of reservation-pattern overlap are this one question. A *star pattern* is a list of
tokens, each either a *star* (any run of symbols, the empty run included) or an *item* (exactly
one symbol out of a set). For names the symbols are characters, items are ``?``, sets and
literal characters, and the star is ``*``; for paths the symbols are whole segment names, items
are segments and the star is ``**``.

The product of two patterns ``left`` (n tokens) and ``right`` (m tokens) has a state ``(k, j)``
for "the first k left tokens and the first j right tokens have matched the same word". Its moves:

* a left star matches nothing: ``(k, j) -> (k+1, j)``; likewise a right star;
* a star takes the symbol the other side's item consumes: ``(k, j) -> (k, j+1)`` for a left
  star and a right item (``(k+1, j)`` mirrored);
* two items consume one symbol both allow: ``(k, j) -> (k+1, j+1)``.

Column ``j`` is the set of reachable ``k``, kept as the bits of one integer, so a whole column
follows from the previous one in a few integer operations: the items compatible with right
token ``j`` (a mask the caller supplies) advance by a shift, left stars stay; a left star then
lets its successor in for free; and when right token ``j`` is a star, every left position at or
after the lowest reachable one is reachable (the star absorbs whatever lies between). The sweep
is O(m) big-integer operations of n bits plus one compatibility mask per right token, instead
of O(n * m) states visited one by one.

Walking back from a reachable state, each step picks a move whose source is reachable (it is
in the column), so the walk reaches ``(0, 0)`` in at most n + m steps and its moves spell a
word both patterns match (:func:`walk_back`).

Stars must not be adjacent on one side (callers collapse ``**`` runs), so one shift is enough
to let a star's successor in.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence


class Move(enum.Enum):
    """How one step of a witness consumed its symbol."""

    BOTH = "both items consumed one symbol"
    LEFT = "a left item's symbol, absorbed by a right star"
    RIGHT = "a right item's symbol, absorbed by a left star"


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One symbol of a witness: the move, and the left and right token indices involved."""

    move: Move
    left: int
    right: int


@dataclasses.dataclass(frozen=True, slots=True)
class Sweep:
    """The reachable states of a product, column by column.

    Attributes:
        columns: ``columns[j]`` has bit k set when state ``(k, j)`` is reachable; it stops
            early (fewer than m + 1 columns) once a column is empty.
        left_stars: Bit k set when left token k is a star.
        right_stars: Whether each right token is a star.
        compatible: The mask of left items compatible with right item j (as given).
    """

    columns: list[int]
    left_stars: int
    right_stars: Sequence[bool]
    compatible: Callable[[int], int]

    def reached(self, k: int, j: int) -> bool:
        """Whether state ``(k, j)`` is reachable."""
        return j < len(self.columns) and (self.columns[j] >> k) & 1 == 1


def sweep(
    n: int, left_stars: int, right_stars: Sequence[bool], compatible: Callable[[int], int]
) -> Sweep:
    """Sweep the product of a left pattern of ``n`` tokens and a right one.

    Args:
        n: How many left tokens there are.
        left_stars: Bit k set when left token k is a star.
        right_stars: For each right token, whether it is a star.
        compatible: For a right item j, the mask of left items sharing a symbol with it.
    """
    everything = (1 << (n + 1)) - 1

    def close(column: int, j: int) -> int:
        column |= (column & left_stars) << 1
        if column and j < len(right_stars) and right_stars[j]:
            lowest = column & -column
            column = everything & ~(lowest - 1)
        return column

    columns = [close(1, 0)]
    for j, star in enumerate(right_stars):
        column = columns[-1]
        if not star:
            column = ((column & compatible(j)) << 1) | (column & left_stars)
        column = close(column, j + 1)
        columns.append(column)
        if not column:
            break
    return Sweep(columns, left_stars, right_stars, compatible)


def walk_back(result: Sweep, k: int, j: int) -> list[Step]:
    """The steps, in order, of a way from ``(0, 0)`` to the reachable state ``(k, j)``.

    Moves without a symbol (a star matching nothing) are left out.
    """
    steps: list[Step] = []
    while k or j:
        left_star = k > 0 and (result.left_stars >> (k - 1)) & 1 == 1
        if k > 0 and result.reached(k - 1, j):
            if left_star:
                k -= 1
                continue
            if j < len(result.right_stars) and result.right_stars[j]:
                steps.append(Step(Move.LEFT, k - 1, j))
                k -= 1
                continue
        if j > 0 and result.right_stars[j - 1]:
            if result.reached(k, j - 1):
                j -= 1
                continue
        elif j > 0:
            if (
                k > 0
                and not left_star
                and result.reached(k - 1, j - 1)
                and (result.compatible(j - 1) >> (k - 1)) & 1
            ):
                steps.append(Step(Move.BOTH, k - 1, j - 1))
                k, j = k - 1, j - 1
                continue
            if result.reached(k, j - 1) and (result.left_stars >> k) & 1:
                steps.append(Step(Move.RIGHT, k, j - 1))
                j -= 1
                continue
        raise AssertionError(f"state ({k}, {j}) has no reachable predecessor")
    steps.reverse()
    return steps
