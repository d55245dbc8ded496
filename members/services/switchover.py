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
from django.db.models import JSONField, Max, Model
from django.utils import timezone
from psycopg.types.json import Jsonb

from members import figures
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


def _insert(objects: Iterable[Model], *, with_ids: bool = False) -> None:
    """Write new rows in bulk: with PostgreSQL's COPY (several times faster than INSERT for
    a register's worth of rows), elsewhere with bulk_create. `with_ids`: the objects get
    their ids (taken from the table's sequence first, for COPY)."""
    rows = list(objects)
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows)
        return
    table = model._meta.db_table
    now = timezone.now()
    if with_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
                row.pk = pk
    fields = [f for f in model._meta.concrete_fields if with_ids or not f.primary_key]
    stamped = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    # COPY takes the Python values as they are (psycopg adapts dates, decimals, texts);
    # JSON needs saying so.
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    names = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    connection.ensure_connection()
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = row.__dict__
            for name in stamped:
                values[name] = now
            copy.write_row([Jsonb(values[n]) if n in json_fields else values[n] for n in names])


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
        _insert(members, with_ids=True)
        _insert(
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
        _insert(
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
