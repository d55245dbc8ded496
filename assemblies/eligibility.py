"""Who may vote at an assembly: the register as it stood on the cut-off date.

A member may vote who, on the cut-off date, belonged to the assembly's division or one below
it (their membership periods say so, not today's record), was no longer pending, and owed no
dues then (charges due by that day against payments booked by then), except at candidate
nominations for public elections, where arrears take no vote away (DESIGN.md, rules: voting
rights). The ineligible are listed with their reason: current members of the subtree who
came after the cut-off, members still pending then, members owing dues then, and members who
left the subtree (by transfer or by the end of their membership) in the twelve months before.

The list is read in batches of members (one query for the periods, one for the ledger per
batch), so that a federal convention's half a million members pass in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from assemblies.models import Assembly, Reason
from members.models import (
    TRANSFER_OUT,
    Division,
    MembershipPeriod,
    MemberStatus,
    MemberVersion,
)
from members.policy import DuesLedger, Owed, dues_ledger

BATCH = 5000
# Who left the subtree this long before the cut-off is still listed, with the day and why.
LEFT_WINDOW = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Row:
    member_id: int
    number: int
    first_name: str
    last_name: str
    division_id: int
    reason: str  # Reason; "" is eligible
    owed: Decimal | None = None
    since: date | None = None  # arrears since, joined or left on

    @property
    def eligible(self) -> bool:
        return self.reason == Reason.ELIGIBLE

    @property
    def name(self) -> str:
        return f"{self.last_name}, {self.first_name}".strip(", ")


def periods(assembly: Assembly) -> Q:
    """The membership periods that matter for the assembly's list."""
    cutoff = assembly.cutoff_on
    covering = Q(started_on__lte=cutoff) & (Q(ended_on__isnull=True) | Q(ended_on__gt=cutoff))
    later = Q(started_on__gt=cutoff, ended_on__isnull=True)
    left = Q(ended_on__lte=cutoff, ended_on__gt=cutoff - LEFT_WINDOW)
    return covering | later | left


def _in_subtree(division: Division) -> Q:
    if division.is_root():
        return Q()
    return Q(division__path__startswith=division.path)


def rows(assembly: Assembly) -> Iterator[Row]:
    """Every member the list shows, in member order, eligible or with the reason why not."""
    division = assembly.division
    cutoff = assembly.cutoff_on
    ledger = dues_ledger() if assembly.arrears_count else None
    queryset = (
        MembershipPeriod.objects.filter(_in_subtree(division), periods(assembly))
        .order_by("member_id", "started_on", "pk")
        .values_list(
            "member_id",
            "division_id",
            "started_on",
            "ended_on",
            "end_kind",
            "member__membership_number",
            "member__first_name",
            "member__last_name",
            "member__status",
            "member__active_since",
        )
    )
    # One pass over the periods in member order (a server-side cursor on PostgreSQL), cut
    # into batches of whole members; for a federal assembly the ledger answers once for
    # everyone (only the owing come back), else once per batch.
    owed_by_all = (
        ledger.owed_on(None, cutoff) if ledger is not None and division.is_root() else None
    )
    batch: list[tuple] = []
    for period in queryset.iterator(chunk_size=BATCH):
        if len(batch) >= BATCH and period[0] != batch[-1][0]:
            yield from _judge(batch, cutoff, ledger, owed_by_all)
            batch = []
        batch.append(period)
    if batch:
        yield from _judge(batch, cutoff, ledger, owed_by_all)


def _judge(
    batch: list[tuple],
    cutoff: date,
    ledger: DuesLedger | None,
    owed_by_all: dict[int, Owed] | None,
) -> Iterator[Row]:
    by_member: dict[int, list[tuple]] = {}
    for period in batch:
        by_member.setdefault(period[0], []).append(period)
    at_cutoff = {
        pk: next((p for p in ps if p[2] <= cutoff and (p[3] is None or p[3] > cutoff)), None)
        for pk, ps in by_member.items()
    }
    owed: dict[int, Owed] = owed_by_all if owed_by_all is not None else {}
    if ledger is not None and owed_by_all is None:
        voters = [pk for pk, p in at_cutoff.items() if p is not None]
        if voters:
            owed = ledger.owed_on(voters, cutoff)
    pending_then = _pending_in_history(
        [
            pk
            for pk, ps in by_member.items()
            if at_cutoff[pk] is not None and ps[0][8] == MemberStatus.ENDED and ps[0][9] is None
        ],
        cutoff,
    )
    for pk, ps in by_member.items():
        _, _, _, _, _, number, first, last, status, active_since = ps[0]
        who = (pk, number, first, last)
        period = at_cutoff[pk]
        if period is not None:
            if (
                status == MemberStatus.PENDING
                or (active_since and active_since > cutoff)
                or pk in pending_then
            ):
                yield Row(*who, period[1], Reason.PENDING)
            elif pk in owed:
                yield Row(*who, period[1], Reason.ARREARS, owed[pk].amount, owed[pk].since)
            else:
                yield Row(*who, period[1], Reason.ELIGIBLE)
            continue
        current = next((p for p in ps if p[3] is None), None)
        if current is not None:  # came after the cut-off (joined, or moved in)
            yield Row(*who, current[1], Reason.NOT_YET, since=current[2])
            continue
        gone = ps[-1]
        reason = Reason.TRANSFERRED if gone[4] == TRANSFER_OUT else Reason.ENDED
        yield Row(*who, gone[1], reason, since=gone[3])


def _pending_in_history(member_ids: list[int], cutoff: date) -> set[int]:
    """Of members whose membership has ended and who never became active on record (their
    status no longer says whether they were pending): those whose record on the cut-off
    date, as its versions kept it, was pending (the last version recorded by then; for a
    member entered later with an earlier date of entry, the first version)."""
    if not member_ids:
        return set()
    status: dict[int, str] = {}
    for member_id, recorded_at, values in (
        MemberVersion.objects.filter(member_id__in=member_ids)
        .order_by("member_id", "version")
        .values_list("member_id", "recorded_at", "values")
    ):
        if member_id not in status or timezone.localdate(recorded_at) <= cutoff:
            status[member_id] = values.get("status", "")
    return {pk for pk, value in status.items() if value == MemberStatus.PENDING}
