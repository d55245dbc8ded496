"""Who may do what in a circle: the circle counterpart of `members.access`.

Circle roles belong to a circle, not a division (DESIGN.md), so they are answered here, in
one place; `members.access` answers everything about divisions and the register and does not
know this app. Out of scope is a 404, like a missing record.

- Coordinators of a circle run its procedure and read its confidential notes, veto reasons
  and mediation notes.
- Members answer in veto periods and see their own answers; nothing confidential.
- Mediators of a mediation read and write its sessions' notes.
- The federal office configures circles and appoints coordinators in the admin, which never
  shows confidential fields; a division role "onboarding coordinator" may found circles there.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from members import access
from members.access import Action
from members.models import Division
from onboarding.models import (
    Candidate,
    Circle,
    CircleMembership,
    CircleRole,
    Mediation,
)


def memberships(user: Any) -> QuerySet[CircleMembership]:
    if not user.is_authenticated or not user.is_active:
        return CircleMembership.objects.none()
    return CircleMembership.objects.active().filter(user=user)


def coordinated_circles(user: Any) -> QuerySet[Circle]:
    return Circle.objects.filter(
        pk__in=memberships(user).filter(role=CircleRole.COORDINATOR).values("circle")
    )


def member_circles(user: Any) -> QuerySet[Circle]:
    return Circle.objects.filter(pk__in=memberships(user).values("circle"))


def is_coordinator(user: Any, circle: Circle) -> bool:
    return memberships(user).filter(circle=circle, role=CircleRole.COORDINATOR).exists()


def is_member(user: Any, circle: Circle) -> bool:
    return memberships(user).filter(circle=circle).exists()


def may_found_circles(user: Any) -> bool:
    return access.has_global_access(user) or bool(
        access.root_paths(user, Action.COORDINATE_ONBOARDING)
    )


def founding_divisions(user: Any) -> QuerySet[Division]:
    return access.divisions_visible_to(user, Action.COORDINATE_ONBOARDING)


def in_any_circle(user: Any) -> bool:
    """Circle people see names of candidates: they need a second factor, too."""
    return memberships(user).exists()


def circle_for_coordinator(user: Any, pk: int) -> Circle:
    circle = coordinated_circles(user).filter(pk=pk).first()
    if circle is None:
        raise Http404
    return circle


def circle_for_member(user: Any, pk: int) -> Circle:
    circle = member_circles(user).filter(pk=pk).first()
    if circle is None:
        raise Http404
    return circle


def candidate_for_coordinator(user: Any, pk: int) -> Candidate:
    candidate = (
        Candidate.objects.select_related("circle")
        .filter(pk=pk, circle__in=coordinated_circles(user))
        .first()
    )
    if candidate is None:
        raise Http404
    return candidate


def candidate_for_member(user: Any, pk: int) -> Candidate:
    """A candidate of the user's circle whose veto period was announced (the link in the
    e-mail keeps working afterwards and says that the period has ended)."""
    candidate = (
        Candidate.objects.select_related("circle")
        .filter(pk=pk, circle__in=member_circles(user), veto_opened_on__isnull=False)
        .exclude(user=user)
        .first()
    )
    if candidate is None:
        raise Http404
    return candidate


def mediations_visible_to(user: Any) -> QuerySet[Mediation]:
    """Coordinators see their circles' mediations, mediators (still in the circle) the ones
    they mediate; nobody sees the notes of a conflict they are part of."""
    if not user.is_authenticated:
        return Mediation.objects.none()
    coordinated = Q(circle__in=coordinated_circles(user))
    mediated = Q(mediators=user, circle__in=member_circles(user))
    party = Mediation.objects.filter(parties=user).values("pk")
    return Mediation.objects.filter(coordinated | mediated).exclude(pk__in=party).distinct()


def mediation_for(user: Any, pk: int) -> Mediation:
    mediation = mediations_visible_to(user).select_related("circle").filter(pk=pk).first()
    if mediation is None:
        raise Http404
    return mediation
