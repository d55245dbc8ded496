"""Reads shared by onboarding's services and views.

A failed mediation is one whose latest session did not resolve the conflict; the count of
them per person decides whether a removal may be recorded. The people page, the mediation
page, the removal page and `services.decide_removal` all read it here, so the button and the
rule cannot disagree.
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from members.models import User
from onboarding.models import Circle, Mediation, MediationSession


def failed_mediations_of(circle: Circle) -> QuerySet[Mediation]:
    """The circle's mediations whose latest session did not resolve the conflict (a resolved
    one closes the mediation and does not count; several unresolved sessions count once)."""
    latest = (
        MediationSession.objects.filter(mediation=OuterRef("pk"))
        .order_by("-held_on", "-pk")
        .values("outcome")[:1]
    )
    return (
        Mediation.objects.filter(circle=circle)
        .annotate(latest=Subquery(latest))
        .filter(latest=MediationSession.Outcome.NOT_RESOLVED)
    )


def failed_mediations(circle: Circle, user: User) -> int:
    """Failed mediations of the circle with this person in the conflict."""
    return failed_mediations_of(circle).filter(parties=user).count()


def failed_mediations_by_person(circle: Circle) -> dict[int, int]:
    """failed_mediations for everyone in the circle's conflicts (user id → count), in one
    query."""
    rows = (
        Mediation.parties.through.objects.filter(
            mediation_id__in=failed_mediations_of(circle).values("pk")
        )
        .values("user_id")
        .annotate(n=Count("mediation_id"))
        .values_list("user_id", "n")
    )
    return dict(rows)


def removal_allowed(circle: Circle, failed: int) -> bool:
    """The procedure's threshold: a removal after this many failed mediations."""
    return failed >= circle.mediations_before_removal


def may_remove(circle: Circle, user: User) -> bool:
    return removal_allowed(circle, failed_mediations(circle, user))
