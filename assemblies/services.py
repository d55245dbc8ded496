"""Assemblies: creating them, freezing their lists, and what changed since."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from assemblies import eligibility
from assemblies.models import Assembly, Attendance, Entry, Reason
from members import access
from members.access import Action
from members.bulk import insert_values
from members.models import Division, User
from members.services import record_audit

FIELDS = (
    "division",
    "kind",
    "title",
    "starts_at",
    "place",
    "online",
    "cutoff_on",
    "agenda",
    "postal_deadline",
)


def may_manage(by: User, division: Division) -> None:
    """Raise PermissionDenied unless the user holds assemblies of this division."""
    if not access.can(by, Action.MANAGE_ASSEMBLIES, division):
        raise PermissionDenied(_("You may not hold assemblies of this division."))


@transaction.atomic
def create_assembly(*, by: User, values: Mapping[str, Any]) -> Assembly:
    """A board's assembly of its own division or one below; the federal office's of any."""
    may_manage(by, values["division"])
    assembly = Assembly.objects.create(**{f: values.get(f) for f in FIELDS}, created_by=by)
    record_audit(
        actor=by,
        action="assembly.create",
        obj=assembly,
        division=assembly.division,
        summary=f"Assembly {assembly.title} on {assembly.starts_at:%Y-%m-%d}, "
        f"cut-off {assembly.cutoff_on}",
    )
    return assembly


FROZEN_FIELDS = ("division", "kind", "cutoff_on")  # what the frozen list was computed for


@transaction.atomic
def update_assembly(*, by: User, assembly: Assembly, values: Mapping[str, Any]) -> Assembly:
    may_manage(by, assembly.division)
    may_manage(by, values["division"])
    if assembly.frozen_at is not None and any(
        getattr(assembly, f) != values.get(f) for f in FROZEN_FIELDS
    ):
        raise ValidationError(
            _(
                "The list is frozen for this division, kind and cut-off date; they cannot "
                "change any more. Create a new assembly instead."
            )
        )
    changes = {
        f: [str(getattr(assembly, f)), str(values.get(f))]
        for f in FIELDS
        if getattr(assembly, f) != values.get(f)
    }
    for name in FIELDS:
        setattr(assembly, name, values.get(name))
    assembly.save()
    record_audit(
        actor=by,
        action="assembly.change",
        obj=assembly,
        division=assembly.division,
        summary=f"Assembly {assembly.title} changed: {', '.join(changes) or '-'}",
        data=changes,
    )
    return assembly


ENTRY_FIELDS = ["assembly_id", "member_id", "division_id", "reason", "owed", "since"]


@transaction.atomic
def freeze(*, assembly: Assembly, by: User | None) -> int:
    """Compute the list and keep it as the assembly's (the invitation goes out with it);
    a second freeze replaces the first, audited with how the counts moved."""
    if by is not None:
        may_manage(by, assembly.division)
    assembly = Assembly.objects.select_for_update().get(pk=assembly.pk)
    before = counts(assembly) if assembly.frozen_at else None
    Entry.objects.filter(assembly=assembly).delete()
    written = Counter[str]()
    # Written in batches: the rows are read through the same connection, which a COPY
    # holds until it ends.
    batch: list[tuple[Any, ...]] = []
    for row in eligibility.rows(assembly):
        written[row.reason] += 1
        batch.append((assembly.pk, row.member_id, row.division_id, row.reason, row.owed, row.since))
        if len(batch) == eligibility.BATCH:
            insert_values(Entry, ENTRY_FIELDS, batch)
            batch = []
    insert_values(Entry, ENTRY_FIELDS, batch)
    eligible = written[Reason.ELIGIBLE]
    # Those already checked in are counted as the list now says (a re-freeze at the door).
    Attendance.objects.filter(assembly=assembly).update(
        eligible=Exists(
            Entry.objects.filter(assembly=assembly, member_id=OuterRef("member_id"), reason="")
        )
    )
    assembly.frozen_at = timezone.now()
    assembly.eligible_count = eligible
    assembly.save(update_fields=["frozen_at", "eligible_count"])
    record_audit(
        actor=by,
        action="assembly.refreeze" if before is not None else "assembly.freeze",
        obj=assembly,
        division=assembly.division,
        summary=f"List of {assembly.title} frozen: {eligible} eligible, "
        f"{sum(written.values()) - eligible} not eligible",
        data={
            "eligible": eligible,
            "not_eligible": dict(sorted((k, v) for k, v in written.items() if k)),
            "before": before.eligible if before is not None else None,
        },
    )
    return sum(written.values())


@dataclass(frozen=True)
class Counts:
    eligible: int
    not_eligible: int
    reasons: list[tuple[str, int]]  # label, count
    per_division: list[tuple[Division, int, int]]  # sub-division, eligible, not eligible


def counts(assembly: Assembly) -> Counts:
    """The frozen list's numbers: in all, per reason, and per sub-division (the assembly
    division's children; members of the division itself count under it)."""
    division = assembly.division
    children = list(Division.objects.get_children(division).order_by("name"))
    by_path = {c.path: c for c in children}
    tally: dict[int, list[int]] = {c.pk: [0, 0] for c in [division, *children]}
    reasons: Counter[str] = Counter()
    for path, reason, n in _grouped(assembly):
        child = by_path.get(path[: len(division.path) + Division.steplen])
        target = child.pk if child is not None else division.pk
        tally[target][0 if reason == Reason.ELIGIBLE else 1] += n
        reasons[reason] += n
    labels = dict(Reason.choices)
    eligible = reasons.pop(Reason.ELIGIBLE, 0)
    return Counts(
        eligible=eligible,
        not_eligible=sum(reasons.values()),
        reasons=[(str(labels[r]), n) for r, n in reasons.most_common()],
        per_division=[
            (d, *tally[d.pk])
            for d in [division, *children]
            if d is not division or any(tally[d.pk])
        ],
    )


def _grouped(assembly: Assembly) -> Iterable[tuple[str, str, int]]:
    return (
        Entry.objects.filter(assembly=assembly)
        .values("division__path", "reason")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("division__path", "reason", "n")
    )


@dataclass(frozen=True)
class Change:
    member_id: int
    number: int
    name: str
    was: str  # reason label on the frozen list ("" if not on it)
    now: str  # reason label today ("" if no longer on it)


def changes(assembly: Assembly, limit: int = 500) -> tuple[list[Change], int]:
    """What differs between the frozen list and the list computed now (a payment arrived,
    a transfer was recorded): the first `limit` changes and how many there are."""
    frozen = dict(
        Entry.objects.filter(assembly=assembly).values_list("member_id", "reason").iterator()
    )
    labels = {k: str(v) for k, v in Reason.choices}
    found: list[Change] = []
    total = 0
    seen: set[int] = set()
    for row in eligibility.rows(assembly):
        seen.add(row.member_id)
        was = frozen.get(row.member_id)
        if was == row.reason:
            continue
        total += 1
        if len(found) < limit:
            found.append(
                Change(
                    row.member_id,
                    row.number,
                    row.name,
                    labels[was] if was is not None else "",
                    labels[row.reason],
                )
            )
    gone = [pk for pk in frozen if pk not in seen]
    total += len(gone)
    if gone and len(found) < limit:
        from members.models import Member

        for pk, number, first, last in Member.objects.filter(
            pk__in=gone[: limit - len(found)]
        ).values_list("pk", "membership_number", "first_name", "last_name"):
            found.append(Change(pk, number, f"{last}, {first}", labels[frozen[pk]], ""))
    return found, total


AT_CUTOFF = (Reason.ELIGIBLE, Reason.PENDING, Reason.ARREARS)


def members_at_cutoff(assembly: Assembly) -> tuple[list[tuple[Division, int]], int]:
    """Members on the cut-off date per sub-division (from the frozen list, else computed
    now), and how many belonged to the division itself, outside every sub-division."""
    division = assembly.division
    children = list(Division.objects.get_children(division).order_by("name"))
    by_path = {c.path: c for c in children}
    tally = {c.pk: 0 for c in children}
    own = 0
    if assembly.frozen_at:
        paths: Iterable[tuple[str, int]] = (
            Entry.objects.filter(assembly=assembly, reason__in=AT_CUTOFF)
            .values("division__path")
            .order_by()
            .annotate(n=Count("pk"))
            .values_list("division__path", "n")
        )
    else:
        paths_of = dict(
            Division.objects.filter(path__startswith=division.path).values_list("pk", "path")
        )
        counter: Counter[str] = Counter(
            paths_of[row.division_id]
            for row in eligibility.rows(assembly)
            if row.reason in AT_CUTOFF
        )
        paths = counter.items()
    for path, n in paths:
        child = by_path.get(path[: len(division.path) + Division.steplen])
        if child is None:
            own += n
        else:
            tally[child.pk] += n
    return [(c, tally[c.pk]) for c in children], own
