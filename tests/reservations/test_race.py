"""Agents racing ReservePaths exclusively for the same file: exactly one wins, every round.

The conflict check and the insert are one single-writer operation, so the writer serialises
the racers even when they land in the same group commit.
"""

from __future__ import annotations

import asyncio

from agentmail.v1 import reservation_service_pb2 as pb

ROUNDS = 20


async def test_exactly_one_of_racing_exclusive_reservations_wins(res, team):
    racers = list(team.values())
    for round_number in range(ROUNDS):
        # Overlapping in different spellings: the file, its folder and a glob over it.
        paths = [f"r{round_number}/x.py", f"r{round_number}/", f"r{round_number}/*.py"]
        responses = await asyncio.gather(
            *(
                res.ReservePaths(
                    pb.ReservePathsRequest(paths=[paths[i % len(paths)]]), metadata=racer.md
                )
                for i, racer in enumerate(racers)
            )
        )

        winners = [r.granted[0].agent for r in responses if r.granted]
        assert len(winners) == 1, (round_number, winners)
        losers = [r for r in responses if not r.granted]
        # An earlier round's `rK/` (unanchored: any folder named rK, at any depth) may be
        # listed too; the winner always is.
        assert all(winners[0] in {h.agent for h in r.conflicts[0].holders} for r in losers)


async def test_two_agents_racing_for_one_file_one_wins_every_round(res, alice, bob):
    for round_number in range(ROUNDS):
        path = f"race/{round_number}.py"
        first, second = await asyncio.gather(
            res.ReservePaths(pb.ReservePathsRequest(paths=[path]), metadata=alice.md),
            res.ReservePaths(pb.ReservePathsRequest(paths=[path]), metadata=bob.md),
        )

        assert len(first.granted) + len(second.granted) == 1, round_number
        assert len(first.conflicts) + len(second.conflicts) == 1, round_number
