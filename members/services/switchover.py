"""The existing register brought in at once (the federal switch-over), in bulk.

Admitting members one by one writes a dozen rows and counts the figures for each: for a
register of half a million that is hours. Here the members, their membership periods (ended
ones as history) and their first versions are written in batches, the numbers kept and the
sequence moved past the highest; the register figures are recomputed once from the result.
One audit entry records the switch-over; each member's first version names it as its reason.
Nothing is sent to anyone, and no dues are charged here (finance.switchover does that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from members import figures
from members.bulk import insert_rows
from members.models import (
    Division,
    Member,
    MembershipPeriod,
    MemberStatus,
    MemberVersion,
    NumberSequence,
    PeriodStart,
    User,
)
from members.services.accounts import record_audit
from members.services.register import EDITABLE_FIELDS, _federal_office_only, state_of

BATCH = 2000


@dataclass(frozen=True)
class Entry:
    """One member of the old register, as the switch-over brings them in."""

    number: int
    division: Division
    joined_on: date
    values: Mapping[str, Any]  # editable fields (members.services.register.EDITABLE_FIELDS)
    status: str = MemberStatus.ACTIVE
    left_on: date | None = None
    end_reason: str = ""
    # Balance, payment status and arrears date as the ledger will have them (finance
    # computes them, so that the register is not written twice).
    payment_state: tuple[Decimal, str, date | None] | None = None


def _chunks(items: list[Any], size: int = BATCH) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@transaction.atomic
def bring_in(*, entries: list[Entry], by: User | None, reason: str) -> list[int]:
    """Write these members with their numbers, periods and first versions; returns their
    ids in the order given. The caller has checked them (numbers free, values valid)."""
    _federal_office_only(by)
    states: dict[int, int | None] = {}
    ids: list[int] = []
    for chunk in _chunks(entries):
        members = []
        for entry in chunk:
            unknown = set(entry.values) - EDITABLE_FIELDS
            if unknown:
                raise ValueError(f"not register fields: {sorted(unknown)}")
            if entry.division.pk not in states:
                states[entry.division.pk] = state_of(entry.division)
            member = Member(
                membership_number=entry.number,
                division=entry.division,
                state_id=states[entry.division.pk],
                joined_on=entry.joined_on,
                status=entry.status,
                left_on=entry.left_on if entry.status == MemberStatus.ENDED else None,
                end_reason=entry.end_reason if entry.status == MemberStatus.ENDED else "",
                **entry.values,
            )
            if entry.payment_state is not None:
                member.balance, member.payment_status, member.arrears_since = entry.payment_state
            member.search_text = member.compute_search_text()
            members.append(member)
        insert_rows(members, with_ids=True)
        insert_rows(
            MembershipPeriod(
                member=member,
                division=member.division,
                started_on=member.joined_on,
                start_kind=PeriodStart.ENTRY,
                ended_on=member.left_on,
                end_kind=member.end_reason,
            )
            for member in members
        )
        insert_rows(
            MemberVersion(
                member=member,
                version=1,
                recorded_by=by,
                reason=reason[:300],
                values=member.register_values(),
                changes={},
            )
            for member in members
        )
        ids += [member.pk for member in members]
    highest = Member.objects.aggregate(highest=Max("membership_number"))["highest"] or 0
    sequence, _created = NumberSequence.objects.select_for_update().get_or_create(name="membership")
    if sequence.last_value < highest:
        sequence.last_value = highest
        sequence.save(update_fields=["last_value"])
    if connection.vendor == "postgresql":
        # The planner's statistics still say the tables are (nearly) empty: every query on
        # them in this transaction would be planned for that.
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE members_member, members_membershipperiod, members_memberversion"
            )
    figures.repair(expected=True)
    record_audit(
        actor=by,
        action="register.switched_over",
        obj=None,
        object_type="members.member",
        object_id=f"{len(ids)} members",
        summary=f"{reason}: {len(ids)} members brought in",
        data={"members": len(ids), "highest_number": highest},
    )
    return ids
