"""Mediation, and removal only after the procedure's number of failed sessions."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from onboarding import services
from onboarding.models import ChannelAccess, CircleMembership, MediationSession
from tests.onboarding.conftest import found, join

pytestmark = pytest.mark.django_db


def _granted(circle, coordinator, user):
    for channel in circle.channels.all():
        task = ChannelAccess.objects.create(channel=channel, user=user, action="grant")
        services.mark_done(by=coordinator, task=task)


def test_removal_only_after_the_configured_failed_mediations_and_it_revokes_every_channel(
    people, utopie
):
    _granted(utopie, people.coordinator, people.anna)
    mediation = services.open_mediation(
        by=people.coordinator,
        circle=utopie,
        subject="Streit um die Moderation",
        parties=[people.anna, people.bernd],
        mediators=[people.coordinator],
    )
    for day in (1, 8):
        services.record_session(
            by=people.coordinator,
            mediation=mediation,
            held_on=date(2026, 3, day),
            outcome=MediationSession.Outcome.NOT_RESOLVED,
            notes="vertrauliche Notiz",
        )
    assert services.failed_mediations(utopie, people.anna) == 2
    with pytest.raises(ValidationError):  # the procedure says three
        services.decide_removal(
            by=people.coordinator, circle=utopie, user=people.anna, reason="nach Mediation"
        )
    services.record_session(
        by=people.coordinator,
        mediation=mediation,
        held_on=date(2026, 3, 15),
        outcome=MediationSession.Outcome.NOT_RESOLVED,
    )
    services.decide_removal(
        by=people.coordinator,
        circle=utopie,
        user=people.anna,
        reason="Drei Mediationen ohne Einigung",
        today=date(2026, 3, 20),
    )
    membership = CircleMembership.objects.get(circle=utopie, user=people.anna)
    assert (membership.ended_on, membership.removed) == (date(2026, 3, 20), True)
    revocations = ChannelAccess.objects.filter(user=people.anna, action="revoke", done_at=None)
    assert sorted(revocations.values_list("channel__name", flat=True)) == [
        "Chat",
        "Liste",
        "Ordner",
    ]
    # Bernd, the other party, stays: the decision is about one person.
    assert CircleMembership.objects.active().filter(circle=utopie, user=people.bernd).exists()


def test_a_resolved_session_closes_the_mediation(people, utopie):
    mediation = services.open_mediation(
        by=people.coordinator,
        circle=utopie,
        subject="Missverständnis",
        parties=[people.anna],
        mediators=[people.bernd],
    )
    services.record_session(
        by=people.bernd, mediation=mediation, held_on=date(2026, 3, 1), outcome="resolved"
    )
    mediation.refresh_from_db()
    assert mediation.closed_at is not None
    with pytest.raises(ValidationError):
        services.record_session(
            by=people.bernd, mediation=mediation, held_on=date(2026, 3, 2), outcome="resolved"
        )


def test_the_threshold_is_the_circles_own(people):
    quick = found(people.coordinator, "AG", mediations_before_removal=1)
    join(quick, people.anna)
    mediation = services.open_mediation(
        by=people.coordinator,
        circle=quick,
        subject="Konflikt",
        parties=[people.anna],
        mediators=[people.coordinator],
    )
    services.record_session(
        by=people.coordinator, mediation=mediation, held_on=date(2026, 3, 1), outcome="not_resolved"
    )
    assert services.may_remove(quick, people.anna)


def test_mediators_are_not_parties_and_parties_are_in_the_circle(people, utopie):
    with pytest.raises(ValidationError):
        services.open_mediation(
            by=people.coordinator,
            circle=utopie,
            subject="x",
            parties=[people.anna],
            mediators=[people.anna],
        )
    with pytest.raises(ValidationError):
        services.open_mediation(
            by=people.coordinator,
            circle=utopie,
            subject="x",
            parties=[people.outsider],
            mediators=[people.coordinator],
        )
