"""Reads shared by views and the admin."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from members import access
from members.models import Division, Member, MemberVersion, RoleAssignment, User


@dataclass(frozen=True)
class MyDivision:
    division: Division
    roles: list[str]
    can_open: bool


def my_divisions(user: User) -> list[MyDivision]:
    """The divisions the user holds roles on, with the role labels and whether the user may
    open the division's page (an onboarding coordinator may not), top first."""
    roles: dict[int, list[str]] = defaultdict(list)
    assignments = (
        RoleAssignment.objects.active(timezone.localdate())
        .filter(user=user)
        .select_related("division")
        .order_by("division__path", "role")
    )
    divisions: dict[int, Division] = {}
    for assignment in assignments:
        divisions[assignment.division_id] = assignment.division
        roles[assignment.division_id].append(assignment.get_role_display())
    return [
        MyDivision(division, roles[pk], access.can(user, access.Action.VIEW_DIVISION, division))
        for pk, division in divisions.items()
    ]


def role_assignments_in_subtree(user: User, division: Division) -> QuerySet[RoleAssignment]:
    """Active and future assignments on the division and below, as far as the user may manage."""
    return (
        RoleAssignment.objects.visible_to(user, access.Action.MANAGE_ROLES)
        .in_subtree(division)
        .filter(revoked_at__isnull=True)
        .exclude(valid_until__lt=timezone.localdate())
        .select_related("user", "division", "granted_by")
        .order_by("division__path", "role", "user__email")
    )


def visible_ancestors(user: User, division: Division) -> QuerySet[Division]:
    """For breadcrumbs: the divisions above, as far as the user may see them."""
    return Division.objects.get_ancestors(division).visible_to(user, access.Action.VIEW_DIVISION)


CHOICES_SHOWN = 15


def division_choices(
    user: User, *, within: Division | None, term: str, selected: int | None
) -> tuple[list[Division], bool]:
    """Divisions for a picker: matching `term` by name or code, below `within` as far as the
    user may see members there (or, without `within`, every division but the federal party,
    as a transfer may go anywhere). The selected one is always included. Returns at most
    CHOICES_SHOWN and whether there were more."""
    qs = sub_divisions(user, within) if within is not None else Division.objects.exclude(depth=1)
    term = term.strip()[:100]
    matches = list(
        qs.filter(Q(name__icontains=term) | Q(code__istartswith=term)).order_by("path")[
            : CHOICES_SHOWN + 1
        ]
        if term
        else []
    )
    more = len(matches) > CHOICES_SHOWN
    matches = matches[:CHOICES_SHOWN]
    if selected and all(d.pk != selected for d in matches):
        chosen = qs.filter(pk=selected).first()
        if chosen is not None:
            matches.insert(0, chosen)
    return matches, more


def sub_divisions(user: User, division: Division) -> QuerySet[Division]:
    """The divisions below `division` whose members the user may see."""
    return (
        Division.objects.visible_to(user, access.Action.VIEW_MEMBERS)
        .subtree_of(division)
        .exclude(pk=division.pk)
    )


def sub_division(user: User, division: Division, pk: int) -> Division | None:
    """The sub-division `pk` below `division`, if the user may see its members."""
    return sub_divisions(user, division).filter(pk=pk).first()


def request_divisions(user: User, division: Division) -> QuerySet[Division]:
    """Where the user may enter new members, starting at `division`."""
    return (
        Division.objects.visible_to(user, access.Action.REQUEST_CHANGE)
        .subtree_of(division)
        .order_by("path")
    )


def division_names_in(versions: list[MemberVersion]) -> dict[int, str]:
    """Names for the division ids that a member's change history mentions (one query)."""
    ids = {v for version in versions for v in version.changes.get("division_id", []) if v}
    return dict(Division.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def member_record_on(member: Member, moment: datetime) -> dict[str, object] | None:
    """What the member's record looked like at `moment` (None: not yet in the register)."""
    version = (
        member.versions.filter(recorded_at__lte=moment)
        .order_by("-version")
        .values_list("values", flat=True)
        .first()
    )
    return version
