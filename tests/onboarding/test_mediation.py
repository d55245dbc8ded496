"""Mediation, and removal only after the procedure's number of failed sessions."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from onboarding import queries, services
from onboarding.models import ChannelAccess, CircleMembership, MediationSession
from tests.onboarding.conftest import found, join

pytestmark = pytest.mark.django_db


def _granted(circle, coordinator, user):
    for channel in circle.channels.all():
        task = ChannelAccess.objects.create(channel=channel, user=user, action="grant")
        services.mark_done(by=coordinator, task=task)


def _failed(circle, coordinator, parties, day, mediators=None, sessions=1):
    mediation = services.open_mediation(
        by=coordinator,
        circle=circle,
        subject=f"Konflikt {day}",
        parties=parties,
        mediators=mediators or [coordinator],
    )
    for n in range(sessions):
        services.record_session(
            by=(mediators or [coordinator])[0],
            mediation=mediation,
            held_on=date(2026, 3, day + n),
            outcome=MediationSession.Outcome.NOT_RESOLVED,
            notes="vertrauliche Notiz",
        )
    return mediation


def test_removal_only_after_the_configured_failed_mediations_and_it_revokes_every_channel(
    people, utopie
):
    _granted(utopie, people.coordinator, people.anna)
    # One mediation with three unresolved sessions is one failed mediation, not three.
    _failed(utopie, people.coordinator, [people.anna, people.bernd], 1, sessions=3)
    _failed(utopie, people.coordinator, [people.anna], 10)
    assert queries.failed_mediations(utopie, people.anna) == 2
    with pytest.raises(ValidationError):  # the procedure says three
        services.decide_removal(
            by=people.coordinator, circle=utopie, user=people.anna, reason="nach Mediation"
        )
    _failed(utopie, people.coordinator, [people.anna], 20)
    services.decide_removal(
        by=people.coordinator,
        circle=utopie,
        user=people.anna,
        reason="Drei Mediationen ohne Einigung",
        today=date(2026, 3, 25),
    )
    membership = CircleMembership.objects.get(circle=utopie, user=people.anna)
    assert (membership.ended_on, membership.removed) == (date(2026, 3, 25), True)
    revocations = ChannelAccess.objects.filter(user=people.anna, action="revoke", done_at=None)
    assert sorted(revocations.values_list("channel__name", flat=True)) == [
        "Chat",
        "Liste",
        "Ordner",
    ]
    # Bernd, the other party, stays: the decision is about one person.
    assert CircleMembership.objects.active().filter(circle=utopie, user=people.bernd).exists()


def test_someone_added_without_recorded_grants_loses_every_channel(people, utopie):
    added = services.add_person(by=people.coordinator, circle=utopie, email="neu@example.org")
    for day in (1, 5, 9):
        _failed(utopie, people.coordinator, [added.user], day)
    services.decide_removal(
        by=people.coordinator, circle=utopie, user=added.user, reason="gescheitert"
    )
    revoked = ChannelAccess.objects.filter(user=added.user, action="revoke")
    assert revoked.count() == utopie.channels.count() == 3


def test_people_in_the_conflict_neither_read_the_notes_nor_decide(client, people, utopie):
    from django.urls import reverse

    mediation = _failed(
        utopie, people.coordinator, [people.anna, people.coordinator], 1, mediators=[people.bernd]
    )
    for day in (5, 9):
        _failed(utopie, people.coordinator, [people.anna], day, mediators=[people.bernd])
    client.force_login(people.coordinator)
    response = client.get(reverse("onboarding:mediation_detail", args=[mediation.pk]))
    assert response.status_code == 404
    with pytest.raises(ValidationError):
        services.decide_removal(
            by=people.coordinator, circle=utopie, user=people.anna, reason="befangen"
        )
    assert CircleMembership.objects.active().filter(user=people.anna).exists()
    client.force_login(people.bernd)  # the mediator reads them
    page = client.get(reverse("onboarding:mediation_detail", args=[mediation.pk]))
    assert "vertrauliche Notiz" in page.content.decode()
    # ... until they leave the circle.
    CircleMembership.objects.filter(user=people.bernd).update(ended_on=date(2026, 4, 1))
    assert (
        client.get(reverse("onboarding:mediation_detail", args=[mediation.pk])).status_code == 404
    )


def test_a_coordinator_cannot_remove_themselves(people, utopie):
    for day in (1, 5, 9):
        _failed(utopie, people.coordinator, [people.coordinator], day, mediators=[people.bernd])
    with pytest.raises(ValidationError):
        services.decide_removal(
            by=people.coordinator, circle=utopie, user=people.coordinator, reason="selbst"
        )


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
    assert queries.may_remove(quick, people.anna)
    # A later session that resolves it takes it off the count.
    services.record_session(
        by=people.coordinator, mediation=mediation, held_on=date(2026, 3, 8), outcome="resolved"
    )
    assert not queries.may_remove(quick, people.anna)


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


def test_people_page_counts_failed_mediations_not_unresolved_sessions(client, people):
    """One mediation with three unresolved sessions is one failed mediation: on a circle
    that needs two, neither the people page nor the removal page offers the removal."""
    from django.urls import reverse

    circle = found(people.coordinator, "AG Digitales", mediations_before_removal=2)
    join(circle, people.anna)
    join(circle, people.bernd)
    _failed(circle, people.coordinator, [people.anna], 1, mediators=[people.bernd], sessions=3)
    client.force_login(people.coordinator)

    page = client.get(reverse("onboarding:circle_people", args=[circle.pk]))

    failed = {row[0].user: row[1] for row in page.context["rows"]}
    assert failed == {people.coordinator: 0, people.anna: 1, people.bernd: 0}
    removal = reverse("onboarding:removal_new", args=[circle.pk, people.anna.pk])
    assert removal not in page.content.decode()
    page = client.get(removal).content.decode()
    assert "1 gescheiterte Mediationen; das Verfahren erlaubt einen Ausschluss nach 2." in page
    assert "Noch nicht:" in page
