"""The postal vote: a ballot number per eligible member, and the returned envelopes.

Nothing here knows a vote: the voting certificate in the return envelope carries the ballot
number, the ballot itself travels in an inner envelope that is never opened here. Recording a
return is idempotent: scanning an envelope twice counts it once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from assemblies import services
from assemblies.models import Assembly, Ballot, Entry
from members import access
from members.access import Action
from members.bulk import insert_values
from members.models import Member, User
from members.services import record_audit

DIGITS = 7  # and a check digit: a typing error is found, not recorded as someone's return


def check_digit(digits: str) -> str:
    """The Luhn check digit of a string of digits."""
    total = 0
    for i, digit in enumerate(reversed(digits)):
        n = int(digit) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def valid_number(number: str) -> bool:
    return len(number) == DIGITS + 1 and number.isdigit() and check_digit(number[:-1]) == number[-1]


def _numbers(count: int, taken: set[str]) -> list[str]:
    numbers: list[str] = []
    while len(numbers) < count:
        body = f"{secrets.randbelow(10**DIGITS - 10 ** (DIGITS - 1)) + 10 ** (DIGITS - 1)}"
        number = body + check_digit(body)
        if number not in taken:
            taken.add(number)
            numbers.append(number)
    return numbers


@transaction.atomic
def create_ballots(*, assembly: Assembly, by: User) -> int:
    """A ballot for every eligible member of the frozen list who has none yet (a second run
    adds only those who became eligible by a re-freeze). Returns how many were added."""
    services.may_manage(by, assembly.division)
    assembly = Assembly.objects.select_for_update().get(pk=assembly.pk)
    if assembly.frozen_at is None:
        raise ValidationError(_("Freeze the list first: ballots go to the eligible on it."))
    have = set(Ballot.objects.filter(assembly=assembly).values_list("member_id", flat=True))
    # Ballots go to members who still are members, and whose address the user may see (one
    # who moved to another state after the cut-off is that state's to write to).
    reachable = access.scope_members(Member.objects.current(), by, Action.VIEW_MEMBERS)
    new = [
        pk
        for pk in Entry.objects.filter(
            assembly=assembly, reason="", member__in=reachable.values("pk")
        )
        .order_by("member_id")
        .values_list("member_id", flat=True)
        if pk not in have
    ]
    taken = set(Ballot.objects.filter(assembly=assembly).values_list("number", flat=True))
    numbers = _numbers(len(new), taken)
    insert_values(
        Ballot,
        ["assembly_id", "member_id", "number"],
        ((assembly.pk, pk, number) for pk, number in zip(new, numbers, strict=True)),
    )
    record_audit(
        actor=by,
        action="assembly.ballots",
        obj=assembly,
        division=assembly.division,
        summary=f"{len(new)} postal ballots for {assembly.title}",
        data={"added": len(new)},
    )
    return len(new)


class Outcome(StrEnum):
    RECORDED = "recorded"
    LATE = "late"
    ALREADY = "already"
    UNKNOWN = "unknown"
    MISTYPED = "mistyped"


def record_return(
    *, assembly: Assembly, number: str, by: User, arrived_on: date | None = None
) -> Outcome:
    """The envelope with this ballot number came back on `arrived_on` (today). Idempotent."""
    services.may_manage(by, assembly.division)
    number = "".join(number.split())
    if not valid_number(number):
        return Outcome.MISTYPED
    arrived_on = arrived_on or timezone.localdate()
    updated = Ballot.objects.filter(
        assembly=assembly, number=number, returned_at__isnull=True
    ).update(returned_at=timezone.now(), arrived_on=arrived_on)
    if not updated:
        return (
            Outcome.ALREADY
            if Ballot.objects.filter(assembly=assembly, number=number).exists()
            else Outcome.UNKNOWN
        )
    return Outcome.LATE if _late(assembly, arrived_on) else Outcome.RECORDED


def _last_day(assembly: Assembly) -> date | None:
    """Envelopes that arrive on the deadline's day are in time."""
    deadline = assembly.postal_deadline
    return timezone.localtime(deadline).date() if deadline is not None else None


def _late(assembly: Assembly, arrived_on: date) -> bool:
    last = _last_day(assembly)
    return last is not None and arrived_on > last


@dataclass(frozen=True)
class PostalCounts:
    sent: int
    returned: int
    valid: int  # returned by the deadline by a member eligible on the list: counted
    late: int  # returned after it: not counted
    ineligible: int  # returned in time, but its member is no longer eligible (a re-freeze)


def counts(assembly: Assembly) -> PostalCounts:
    last = _last_day(assembly)
    late = Q(arrived_on__gt=last) if last else Q(pk__in=[])
    eligible = Exists(
        Entry.objects.filter(assembly=assembly, member_id=OuterRef("member_id"), reason="")
    )
    returned = Q(returned_at__isnull=False)
    figures = Ballot.objects.filter(assembly=assembly).aggregate(
        sent=Count("pk"),
        returned=Count("pk", filter=returned),
        late=Count("pk", filter=returned & late),
        valid=Count("pk", filter=returned & ~late & Q(eligible)),
    )
    return PostalCounts(
        figures["sent"],
        figures["returned"],
        figures["valid"],
        figures["late"],
        figures["returned"] - figures["late"] - figures["valid"],
    )
