"""Need to know: how many people can see a member, and who they are.

A member is seen by everyone holding a role that shows members on the member's division or
above it, and by the federal office (DESIGN.md: historically no more than about a dozen
people see one member). The same people see every member of a division, so the report is
made per division; a member's figure is their division's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet
from django.utils import timezone

from members import access
from members.access import ROLE_ACTIONS, Action
from members.models import Division, Role, RoleAssignment, User

SEEING_ROLES = [role for role, actions in ROLE_ACTIONS.items() if Action.VIEW_MEMBERS in actions]


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    email: str
    role: str
    division: str
    since: date | None
    until: date | None = None


@dataclass
class DivisionAccess:
    division: Division
    viewers: list[Viewer] = field(default_factory=list)
    federal: list[Viewer] = field(default_factory=list)

    @property
    def people(self) -> int:
        return len({v.user_id for v in self.viewers} | {v.user_id for v in self.federal})

    @property
    def too_many(self) -> bool:
        return self.people > settings.MUSTERROLLE_NEED_TO_KNOW_LIMIT


def may_see_report(user: access.AnyUser) -> bool:
    """The federal office, and boards of a state association (or of the federation)."""
    return access.has_global_access(user) or any(
        g.role == Role.BOARD and g.level in access.STATEMENT_LEVELS for g in access.grants_of(user)
    )


def report_divisions(user: access.AnyUser) -> QuerySet[Division]:
    if access.has_global_access(user):
        return Division.objects.all()
    paths = [
        g.path
        for g in access.grants_of(user)
        if g.role == Role.BOARD and g.level in access.STATEMENT_LEVELS
    ]
    q = Q(pk__in=[])
    for path in access.tops(paths):
        q |= Q(path__startswith=path)
    return Division.objects.filter(q)


def federal_office() -> list[Viewer]:
    """Active staff who reach every division through the permission (superusers too)."""
    app_label, codename = access.GLOBAL_PERMISSION.split(".")
    permission = Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ).first()
    reach = Q(is_superuser=True)
    if permission is not None:
        reach |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    users = User.objects.filter(reach, is_active=True, is_staff=True).distinct().order_by("pk")
    return [
        Viewer(
            user_id=u.pk,
            name=u.get_full_name() or u.email,
            email=u.email,
            role="federal",
            division="",
            since=timezone.localtime(u.date_joined).date(),
        )
        for u in users
    ]


def for_divisions(divisions: QuerySet[Division] | list[Division]) -> list[DivisionAccess]:
    """Who can see the members of each division: two queries, whatever the number."""
    today = timezone.localdate()
    by_path: dict[str, list[Viewer]] = defaultdict(list)
    assignments = (
        RoleAssignment.objects.active(today)
        .filter(role__in=SEEING_ROLES, user__is_active=True)
        .select_related("user", "division")
        .order_by("division__path", "valid_from", "pk")
    )
    for a in assignments:
        by_path[a.division.path].append(
            Viewer(
                user_id=a.user_id,
                name=a.user.get_full_name() or a.user.email,
                email=a.user.email,
                role=Role(a.role).label,
                division=a.division.name,
                since=a.valid_from,
                until=a.valid_until,
            )
        )
    federal = federal_office()
    result = []
    for division in divisions:
        viewers = [v for path in division.ancestor_paths() for v in by_path.get(path, [])]
        result.append(DivisionAccess(division=division, viewers=viewers, federal=federal))
    return result


def for_division(division: Division) -> DivisionAccess:
    return for_divisions([division])[0]
