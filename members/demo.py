"""Builds a plausible register with ten years of history, in bulk (demo data)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from members import figures, services
from members.demo_data import STATE_WEIGHTS, person
from members.models import (
    TRANSFER_OUT,
    Division,
    DivisionLevel,
    EndReason,
    Member,
    MembershipPeriod,
    MemberStatus,
    MemberVersion,
    NumberSequence,
    PeriodStart,
)

BATCH = 2000


def _leaf_divisions_by_state() -> dict[str, list[Division]]:
    """Per state, the divisions members live in: districts and local chapters."""
    states = {d.path: d.code for d in Division.objects.filter(level=DivisionLevel.STATE)}
    result: dict[str, list[Division]] = {code: [] for code in states.values()}
    for division in Division.objects.filter(
        level__in=[DivisionLevel.DISTRICT, DivisionLevel.LOCAL]
    ):
        state_path = division.path[: Division.steplen * 2]
        if state_path in states:
            result[states[state_path]].append(division)
    return result


def _random_day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max((end - start).days, 0)))


def populate_register(*, total: int, today: date, seed: int = 25) -> int:
    """Add `total` members spread over the states by weight; returns how many were added."""
    rng = random.Random(seed)
    by_state = {
        code: divisions for code, divisions in _leaf_divisions_by_state().items() if divisions
    }
    codes = [code for code in STATE_WEIGHTS if code in by_state]
    weights = [STATE_WEIGHTS[code] for code in codes]
    first_number = (
        Member.objects.order_by("-membership_number")
        .values_list("membership_number", flat=True)
        .first()
        or 100000
    ) + 1
    start = today - timedelta(days=3650)
    members: list[Member] = []
    plans: list[tuple[Member, Sequence[tuple]]] = []
    for i in range(total):
        state = rng.choices(codes, weights)[0]
        divisions = by_state[state]
        # More people joined recently than ten years ago.
        joined = _random_day(
            rng, start + timedelta(days=int(3650 * (1 - rng.random() ** 0.7))), today
        )
        division = rng.choice(divisions)
        events: list[tuple] = []
        if rng.random() < 0.08 and len(divisions) > 1:
            moved = _random_day(rng, joined, today)
            origin = rng.choice([d for d in divisions if d.pk != division.pk])
            events.append(("transfer", moved, origin))
        ended = None
        if rng.random() < 0.15:
            after = events[-1][1] if events else joined
            ended = _random_day(rng, after, today)
            reason = rng.choices(
                [EndReason.EXIT, EndReason.DEATH, EndReason.STRUCK_OFF], weights=[85, 8, 7]
            )[0]
            events.append(("end", ended, reason))
        status = (
            MemberStatus.ENDED
            if ended
            else MemberStatus.PENDING
            if (today - joined).days < 60 and rng.random() < 0.5
            else MemberStatus.ACTIVE
        )
        member = Member(
            membership_number=first_number + i,
            division=division,
            joined_on=joined,
            status=status,
            left_on=ended,
            end_reason=events[-1][2] if ended else "",
            version=1 + len(events),
            **person(rng, state, today),
        )
        member.search_text = member.compute_search_text()
        members.append(member)
        plans.append((member, events))
        if len(members) >= BATCH:
            _write(plans)
            members, plans = [], []
    _write(plans)
    NumberSequence.objects.update_or_create(
        name="membership", defaults={"last_value": first_number + total - 1}
    )
    return total


def _write(plans: list[tuple[Member, Sequence[tuple]]]) -> None:
    if not plans:
        return
    Member.objects.bulk_create([member for member, _ in plans])
    periods: list[MembershipPeriod] = []
    versions: list[MemberVersion] = []
    for member, events in plans:
        division_at_start = next((e[2] for e in events if e[0] == "transfer"), member.division)
        current = MembershipPeriod(
            member=member,
            division=division_at_start,
            started_on=member.joined_on,
            start_kind=PeriodStart.ENTRY,
        )
        periods.append(current)
        values = member.register_values()
        first = {
            **values,
            "division_id": division_at_start.pk,
            "status": MemberStatus.ACTIVE,
            "left_on": None,
            "end_reason": "",
        }
        versions.append(MemberVersion(member=member, version=1, values=first, reason="Demo"))
        for number, (kind, day, detail) in enumerate(events, start=2):
            current.ended_on = day
            if kind == "transfer":
                current.end_kind = TRANSFER_OUT
                current = MembershipPeriod(
                    member=member,
                    division=member.division,
                    started_on=day,
                    start_kind=PeriodStart.TRANSFER_IN,
                )
                periods.append(current)
                changes = {"division_id": [division_at_start.pk, member.division_id]}
            else:
                current.end_kind = detail
                changes = {"status": [MemberStatus.ACTIVE, MemberStatus.ENDED]}
            versions.append(
                MemberVersion(
                    member=member, version=number, values=values, changes=changes, reason="Demo"
                )
            )
    MembershipPeriod.objects.bulk_create(periods, batch_size=BATCH)
    MemberVersion.objects.bulk_create(versions, batch_size=BATCH)
    # Written in bulk, past the services that count every change: count them all at once.
    services.fill_states()
    figures.repair()
