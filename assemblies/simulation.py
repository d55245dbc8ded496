"""Who may vote, checked by the year simulation at every month's end (finance.simulation).

For each state, the list computed for a convention and for a nomination with that day as
cut-off (and with the last month's end, a cut-off in the past) is held against the
checker's own reading of the register and the ledger: the members the periods place in the
state on that day are exactly those listed as eligible, pending or owing; an eligible member
owed nothing that day and was not pending; an owing one owed what the ledger says since the
day it says; nominations take no vote for arrears.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Q

from assemblies import eligibility
from assemblies.models import Assembly, AssemblyKind, Reason
from assemblies.services import AT_CUTOFF
from finance.simulation_checks import Checker, State, Violation, state_on
from members.models import Division, DivisionLevel, MembershipPeriod, MemberStatus


def check_eligibility(checker: Checker, day: date) -> None:
    last_month_end = day.replace(day=1) - timedelta(days=1)
    for state in Division.objects.filter(level=DivisionLevel.STATE).order_by("path"):
        for cutoff in (day, last_month_end):
            for kind in (AssemblyKind.CONVENTION, AssemblyKind.NOMINATION):
                _check(checker, Assembly(division=state, kind=kind, cutoff_on=cutoff), day)


def _members_on(state: Division, cutoff: date) -> set[int]:
    return set(
        MembershipPeriod.objects.filter(
            division__path__startswith=state.path, started_on__lte=cutoff
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=cutoff))
        .values_list("member_id", flat=True)
    )


def _owed(checker: Checker, member_id: int, cutoff: date) -> State:
    row = checker.members[member_id]
    return state_on(
        checker.ledger.charges.get(member_id, []),
        checker.ledger.payments.get(member_id, ()),
        row.fee_class,
        cutoff,
    )


def _check(checker: Checker, assembly: Assembly, day: date) -> None:
    cutoff = assembly.cutoff_on
    where = f"day={day} {assembly.division.code} {assembly.kind} cut-off {cutoff}"
    rows = list(eligibility.rows(assembly))
    listed = {r.member_id for r in rows if r.reason in AT_CUTOFF}
    expected = _members_on(assembly.division, cutoff)
    if listed != expected:
        raise Violation(
            "eligibility_members",
            f"{where}: listed but not a member then {sorted(listed - expected)[:5]}, "
            f"a member then but not listed {sorted(expected - listed)[:5]}",
        )
    for row in rows:
        if row.reason not in AT_CUTOFF:
            continue
        member = checker.members[row.member_id]
        pending = member.status == MemberStatus.PENDING  # never back to pending once active
        state = _owed(checker, row.member_id, cutoff)
        if row.reason == Reason.PENDING:
            if cutoff == day and not pending:
                raise Violation("eligibility_pending", f"{where}: {member.number} is not pending")
            continue
        if pending:
            raise Violation(
                "eligibility_pending", f"{where}: {member.number} pending but {row.reason!r}"
            )
        owes = state.balance < 0 and assembly.kind != AssemblyKind.NOMINATION
        if row.reason == Reason.ELIGIBLE and owes:
            raise Violation(
                "eligibility_arrears",
                f"{where}: {member.number} eligible but owed {-state.balance} €",
            )
        if row.reason == Reason.ARREARS and (
            not owes or row.owed != -state.balance or row.since != state.since
        ):
            raise Violation(
                "eligibility_arrears",
                f"{where}: {member.number} listed as owing {row.owed} € since {row.since}, "
                f"the ledger says {-state.balance} € since {state.since}",
            )
