"""Delegate seats per sub-division from member counts, by the methods party statutes name.

- Sainte-Laguë/Schepers and D'Hondt are highest-averages methods: each sub-division's count is
  divided by 0.5, 1.5, 2.5, … (Sainte-Laguë/Schepers; the same order as 1, 3, 5, …) or by
  1, 2, 3, … (D'Hondt), and the seats go to the largest quotients in turn.
- Hare-Niemeyer (largest remainder): each gets the whole part of seats * count / total, the
  seats left go to the largest remainders.

With a minimum of one seat (a basic seat, as statutes often grant), every sub-division first
gets one seat and the others are shared out by the method. All arithmetic is exact
(fractions). A tie for the last seat is not decided here: statutes decide it by lot; the
result says so and names who is tied (the seat goes provisionally to the larger count, then
the name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from django.utils.translation import gettext_lazy as _

METHODS = {
    "sainte_lague": _("Sainte-Laguë/Schepers"),
    "hare_niemeyer": _("Hare-Niemeyer"),
    "dhondt": _("D'Hondt"),
}


@dataclass(frozen=True)
class Step:
    seat: int  # the seat's number (for Hare-Niemeyer: 0 for the whole parts)
    name: str
    value: Fraction  # the quotient (highest averages) or the remainder (Hare-Niemeyer)
    note: str = ""

    @property
    def shown(self) -> str:
        return f"{float(self.value):.4f}"


@dataclass
class Result:
    method: str
    seats: int
    counts: list[tuple[str, int]]
    minimum: bool
    allocation: dict[str, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    quota: Fraction | None = None  # Hare-Niemeyer: members per seat
    tied: list[str] = field(default_factory=list)  # for the last seat: decided by lot

    def rows(self) -> list[tuple[str, int, int]]:
        return [(name, count, self.allocation[name]) for name, count in self.counts]


def allocate(
    counts: Sequence[tuple[str, int]], seats: int, method: str, *, minimum: bool
) -> Result:
    """Share `seats` among the named counts (name, members) by `method`."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method}")
    if seats < 0:
        raise ValueError("seats must not be negative")
    counts = list(counts)
    result = Result(method=method, seats=seats, counts=counts, minimum=minimum)
    result.allocation = {name: 0 for name, _count in counts}
    to_share = seats
    if minimum:
        if seats < len(counts):
            raise ValueError("fewer seats than sub-divisions: a minimum of one is impossible")
        for name, _count in counts:
            result.allocation[name] = 1
            result.steps.append(Step(0, name, Fraction(0), str(_("basic seat"))))
        to_share -= len(counts)
    if to_share == 0 or not any(count for _name, count in counts):
        return result
    if method == "hare_niemeyer":
        _largest_remainder(result, counts, to_share)
    else:
        _highest_averages(result, counts, to_share, step=2 if method == "sainte_lague" else 1)
    return result


def _order(counts: Sequence[tuple[str, int]]) -> dict[str, tuple[int, str]]:
    # Between equal values: the larger count first, then the name (provisionally: by lot).
    return {name: (-count, name) for name, count in counts}


def _highest_averages(
    result: Result, counts: Sequence[tuple[str, int]], seats: int, *, step: int
) -> None:
    """Divisors 1, 2, 3 … (step 1, D'Hondt) or 1, 3, 5 … (step 2, Sainte-Laguë/Schepers)."""
    taken = {name: 0 for name, _count in counts}
    order = _order(counts)

    def quotient(name: str, count: int) -> Fraction:
        return Fraction(count, 1 + step * taken[name])

    for seat in range(1, seats + 1):
        candidates = sorted(
            ((quotient(name, count), name) for name, count in counts if count),
            key=lambda q: (-q[0], order[q[1]]),
        )
        best, name = candidates[0]
        taken[name] += 1
        result.allocation[name] += 1
        result.steps.append(Step(seat, name, best))
    # A tie for the last seats: everyone who won a seat at the last quotient or would have
    # won the next one at it, if they are more than the seats given at it.
    last = result.steps[-1].value
    given = [s.name for s in result.steps if s.seat and s.value == last]
    waiting = [name for name, count in counts if count and quotient(name, count) == last]
    if waiting:
        result.tied = sorted(set(given) | set(waiting), key=lambda n: order[n])


def _largest_remainder(result: Result, counts: Sequence[tuple[str, int]], seats: int) -> None:
    total = sum(count for _name, count in counts)
    result.quota = Fraction(total, seats)
    remainders = []
    left = seats
    for name, count in counts:
        share = Fraction(count * seats, total)
        whole = share.numerator // share.denominator
        left -= whole
        result.allocation[name] += whole
        remainders.append((share - whole, name))
        result.steps.append(Step(0, name, share, str(_("whole part %(n)s") % {"n": whole})))
    order = _order(counts)
    ranked = sorted(remainders, key=lambda r: (-r[0], order[r[1]]))
    for seat, (remainder, name) in enumerate(ranked[:left], start=1):
        result.allocation[name] += 1
        result.steps.append(Step(seat, name, remainder, str(_("remainder"))))
    if 0 < left < len(ranked) and ranked[left - 1][0] == ranked[left][0]:
        result.tied = [n for r, n in ranked if r == ranked[left - 1][0]]
