"""Check-in at the door: find a member on the frozen list, mark them present once."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from assemblies import services
from assemblies.models import Assembly, Attendance, Ballot, Entry
from members.models import User

RESULTS = 20


def search(assembly: Assembly, query: str) -> QuerySet[Entry]:
    """Entries of the frozen list by membership number or name, each with `present`."""
    entries = Entry.objects.filter(assembly=assembly)
    query = query.strip()
    if query.isdigit():
        entries = entries.filter(member__membership_number=int(query))
    else:
        for word in query.lower().split():
            entries = entries.filter(member__search_text__contains=word)
    present = Attendance.objects.filter(assembly=assembly, member_id=OuterRef("member_id"))
    by_post = Ballot.objects.filter(
        assembly=assembly, member_id=OuterRef("member_id"), returned_at__isnull=False
    )
    return (
        entries.select_related("member", "division")
        .annotate(present=Exists(present), voted_by_post=Exists(by_post))
        .order_by("member__last_name", "member__first_name", "member_id")[:RESULTS]
    )


@dataclass(frozen=True)
class Presence:
    eligible_present: int
    present: int
    eligible: int


def presence(assembly: Assembly) -> Presence:
    """Who is in the room. Each attendance keeps whether its member may vote as the list is
    frozen now (services.freeze updates it), so counting reads the attendances alone."""
    from django.db.models import Count, Q

    present = Attendance.objects.filter(assembly=assembly).aggregate(
        all=Count("pk"), eligible=Count("pk", filter=Q(eligible=True))
    )
    return Presence(present["eligible"], present["all"], assembly.eligible_count or 0)


def check_in(*, assembly: Assembly, member_id: int, by: User) -> tuple[Entry, bool]:
    """Mark the member present; a repeated request (a flaky connection retrying) finds the
    first and changes nothing. Returns the member's entry and whether this request did it.
    Raises Entry.DoesNotExist for a member not on the list."""
    services.may_manage(by, assembly.division)
    entry = Entry.objects.select_related("member").get(assembly=assembly, member_id=member_id)
    try:
        with transaction.atomic():
            _attendance, created = Attendance.objects.get_or_create(
                assembly=assembly,
                member_id=member_id,
                defaults={"eligible": entry.reason == "", "checked_in_by": by},
            )
    except IntegrityError:  # the same check-in from a second request at the same moment
        created = False
    return entry, created
