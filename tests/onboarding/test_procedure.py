"""The admission path with exact states and dates, vetoes, and two different procedures."""

import json
from datetime import date

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from members.models import AuditEntry, User
from onboarding import services
from onboarding.models import (
    Candidate,
    CandidateState,
    ChannelAccess,
    CircleMembership,
)
from tests.onboarding.conftest import found, join, meet, register

pytestmark = pytest.mark.django_db

OPENED = date(2026, 3, 2)


def _open(candidate, by):
    meet(candidate, by, date(2026, 2, 10), date(2026, 2, 20))
    return services.open_veto_period(by=by, candidate=candidate, today=OPENED)


def test_the_full_path_register_meet_veto_period_admitted_the_day_after(
    people, utopie, django_capture_on_commit_callbacks
):
    candidate = register(utopie, people.coordinator)
    assert candidate.state == CandidateState.NEW
    meet(candidate, people.coordinator, date(2026, 2, 10))
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.GETTING_TO_KNOW
    with pytest.raises(ValidationError):  # the procedure asks for two meetings
        services.open_veto_period(by=people.coordinator, candidate=candidate, today=OPENED)
    meet(candidate, people.coordinator, date(2026, 2, 20))

    with django_capture_on_commit_callbacks(execute=True):
        services.open_veto_period(by=people.coordinator, candidate=candidate, today=OPENED)
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.VETO_PERIOD
    assert (candidate.veto_opened_on, candidate.veto_ends_on) == (OPENED, date(2026, 3, 15))
    assert candidate.admission_day == date(2026, 3, 16)
    # Every circle member is told, with a link; the notes are not in it.
    told = sorted(m.to[0] for m in mail.outbox)
    assert told == sorted([people.coordinator.email, people.anna.email, people.bernd.email])
    assert f"/onboarding/candidates/{candidate.pk}/answer/" in mail.outbox[0].body
    assert all("vertraulich" not in m.body for m in mail.outbox)
    mail.outbox.clear()

    services.answer(by=people.anna, candidate=candidate, veto=False, today=date(2026, 3, 5))
    # On the last day of the period nothing happens yet.
    assert services.admit_due(date(2026, 3, 15)) == {"admitted": 0, "vetoed": 0}
    with django_capture_on_commit_callbacks(execute=True):
        assert services.admit_due(date(2026, 3, 16)) == {"admitted": 1, "vetoed": 0}
        assert services.admit_due(date(2026, 3, 16)) == {"admitted": 0, "vetoed": 0}
        assert services.admit_due(date(2026, 3, 17)) == {"admitted": 0, "vetoed": 0}
    candidate.refresh_from_db()
    assert (candidate.state, candidate.admitted_on) == (CandidateState.ADMITTED, date(2026, 3, 16))
    user = User.objects.get(email="sam@example.org")
    assert candidate.user == user
    assert CircleMembership.objects.filter(circle=utopie, user=user).count() == 1
    grants = ChannelAccess.objects.filter(user=user, action="grant", done_at__isnull=True)
    assert sorted(grants.values_list("channel__name", flat=True)) == ["Chat", "Liste", "Ordner"]
    # Coordinators get the channels to grant, the newcomer a welcome (and an invitation).
    to_coordinator = [m for m in mail.outbox if m.to == [people.coordinator.email]]
    assert len(to_coordinator) == 1 and "Chat" in to_coordinator[0].body
    assert len([m for m in mail.outbox if m.to == ["sam@example.org"]]) == 2
    assert all("vertraulich" not in m.body for m in mail.outbox)
    states = list(
        AuditEntry.objects.filter(action="onboarding.candidate_state")
        .order_by("pk")
        .values_list("data__after", flat=True)
    )
    assert states == ["getting_to_know", "veto_period", "admitted"]


def test_the_scheduled_task_admits_on_the_day_after_with_a_frozen_clock(people, utopie):
    from onboarding.tasks import admit_due

    candidate = _open(register(utopie, people.coordinator), people.coordinator)
    with time_machine.travel(date(2026, 3, 15), tick=False):
        admit_due.delay()
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.VETO_PERIOD
    with time_machine.travel(date(2026, 3, 16), tick=False):
        admit_due.delay()
        admit_due.delay()
    candidate.refresh_from_db()
    assert (candidate.state, candidate.admitted_on) == (CandidateState.ADMITTED, date(2026, 3, 16))
    assert CircleMembership.objects.filter(circle=utopie, user=candidate.user).count() == 1


def test_a_veto_blocks_admission_and_goes_to_the_coordinators(
    people, utopie, django_capture_on_commit_callbacks
):
    candidate = _open(register(utopie, people.coordinator), people.coordinator)
    services.answer(
        by=people.anna,
        candidate=candidate,
        veto=True,
        reason="geheimer Grund: schlechte Erfahrung",
        today=date(2026, 3, 10),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.admit_due(date(2026, 3, 16)) == {"admitted": 0, "vetoed": 1}
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.VETOED
    assert not CircleMembership.objects.filter(user__email="sam@example.org").exists()
    told = [m for m in mail.outbox if m.to == [people.coordinator.email]]
    assert len(told) == 1 and "geheimer Grund" not in told[0].body
    for entry in AuditEntry.objects.all():
        assert "geheimer" not in entry.summary + json.dumps(entry.data)
    with pytest.raises(ValidationError):  # this circle: a single veto blocks
        services.decide_after_veto(
            by=people.coordinator, candidate=candidate, decision="admit", today=date(2026, 3, 17)
        )
    services.decide_after_veto(
        by=people.coordinator, candidate=candidate, decision="reopen", today=date(2026, 3, 17)
    )
    candidate.refresh_from_db()
    assert (candidate.state, candidate.veto_ends_on) == (
        CandidateState.VETO_PERIOD,
        date(2026, 3, 30),
    )
    # The earlier round's veto does not count in the new one.
    assert services.admit_due(date(2026, 3, 31)) == {"admitted": 1, "vetoed": 0}


def test_a_withdrawn_veto_lets_admission_proceed(people, utopie):
    candidate = _open(register(utopie, people.coordinator), people.coordinator)
    services.answer(
        by=people.anna, candidate=candidate, veto=True, reason="Bedenken", today=date(2026, 3, 3)
    )
    services.answer(by=people.anna, candidate=candidate, veto=False, today=date(2026, 3, 15))
    assert services.admit_due(date(2026, 3, 16)) == {"admitted": 1, "vetoed": 0}
    assert AuditEntry.objects.filter(action="onboarding.veto_withdrawn").count() == 1


def test_a_veto_by_a_non_member_or_after_the_deadline_is_refused(people, utopie):
    candidate = _open(register(utopie, people.coordinator), people.coordinator)
    with pytest.raises(PermissionDenied):
        services.answer(
            by=people.outsider, candidate=candidate, veto=True, reason="x", today=date(2026, 3, 3)
        )
    with pytest.raises(ValidationError):
        services.answer(
            by=people.anna,
            candidate=candidate,
            veto=True,
            reason="zu spät",
            today=date(2026, 3, 16),
        )
    with pytest.raises(ValidationError):  # a veto needs a reason
        services.answer(by=people.anna, candidate=candidate, veto=True, today=date(2026, 3, 3))
    assert not candidate.responses.exists()
    assert services.admit_due(date(2026, 3, 16)) == {"admitted": 1, "vetoed": 0}


def test_two_circles_with_different_procedures_behave_differently(people):
    strict = found(people.coordinator, "Utopie25")
    open_ = found(
        people.coordinator,
        "AG Digitales",
        veto_days=7,
        meetings_required=1,
        veto_blocks=False,
        mediations_before_removal=1,
    )
    for circle in (strict, open_):
        join(circle, people.anna)
    first = register(strict, people.coordinator, "Sam")
    second = register(open_, people.coordinator, "Kim")
    for candidate in (first, second):
        meet(candidate, people.coordinator, date(2026, 2, 20))
    # One meeting is enough in the working group, not in Utopie25.
    with pytest.raises(ValidationError):
        services.open_veto_period(by=people.coordinator, candidate=first, today=OPENED)
    services.open_veto_period(by=people.coordinator, candidate=second, today=OPENED)
    second.refresh_from_db()
    assert second.veto_ends_on == date(2026, 3, 8)  # seven days
    services.answer(
        by=people.anna, candidate=second, veto=True, reason="Reden wir", today=date(2026, 3, 4)
    )
    services.admit_due(date(2026, 3, 9))
    second.refresh_from_db()
    assert second.state == CandidateState.VETOED
    # Here a veto goes to a discussion, after which the coordinators may admit.
    services.decide_after_veto(
        by=people.coordinator, candidate=second, decision="admit", today=date(2026, 3, 12)
    )
    second.refresh_from_db()
    assert (second.state, second.admitted_on) == (CandidateState.ADMITTED, date(2026, 3, 12))


def test_only_coordinators_run_the_procedure(people, utopie):
    with pytest.raises(PermissionDenied):
        register(utopie, people.anna)
    candidate = register(utopie, people.coordinator)
    with pytest.raises(PermissionDenied):
        meet(candidate, people.anna, date(2026, 2, 1))
    assert Candidate.objects.count() == 1


def test_a_circle_keeps_at_least_one_coordinator(people, utopie):
    mine = CircleMembership.objects.get(user=people.coordinator)
    with pytest.raises(ValidationError):
        services.set_role(by=people.coordinator, membership=mine, role="member")
    anna = CircleMembership.objects.get(user=people.anna)
    services.set_role(by=people.coordinator, membership=anna, role="coordinator")
    services.set_role(by=people.coordinator, membership=mine, role="member")
    with pytest.raises(PermissionDenied):
        services.set_role(by=people.coordinator, membership=anna, role="member")


def test_someone_with_an_account_is_linked_and_never_asked_about_themselves(
    people, utopie, django_capture_on_commit_callbacks
):
    existing = User.objects.create_user(email="Sam@Example.org", first_name="Sam")
    candidate = register(utopie, people.coordinator)  # sam@example.org, other letter case
    assert candidate.user == existing
    with pytest.raises(ValidationError):  # already in the circle: not a candidate
        register(utopie, people.coordinator, "Anna", notes="")
    meet(candidate, people.coordinator, date(2026, 2, 10), date(2026, 2, 20))
    with django_capture_on_commit_callbacks(execute=True):
        services.open_veto_period(by=people.coordinator, candidate=candidate, today=OPENED)
    assert existing.email not in [m.to[0] for m in mail.outbox]
    candidate.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.answer(by=existing, candidate=candidate, veto=False, today=OPENED)
    services.admit_due(date(2026, 3, 16))
    assert User.objects.filter(email__iexact="sam@example.org").count() == 1
    assert CircleMembership.objects.active().filter(circle=utopie, user=existing).exists()


def test_a_broken_case_does_not_hold_up_the_others(people, utopie):
    first = _open(register(utopie, people.coordinator, "Kim"), people.coordinator)
    second = _open(register(utopie, people.coordinator, "Lou"), people.coordinator)
    # Kim's account was deactivated meanwhile: the admission cannot create or use it.
    User.objects.create_user(email="kim@example.org", is_active=False)
    assert services.admit_due(date(2026, 3, 16)) == {"admitted": 1, "vetoed": 0}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (CandidateState.VETO_PERIOD, CandidateState.ADMITTED)


def test_admission_does_not_ask_to_grant_what_the_person_has(people, utopie):
    from onboarding.models import ChannelAccess

    returning = User.objects.create_user(email="sam@example.org")
    chat = utopie.channels.get(name="Chat")
    done = ChannelAccess.objects.create(channel=chat, user=returning, action="grant")
    services.mark_done(by=people.coordinator, task=done)
    _open(register(utopie, people.coordinator), people.coordinator)
    services.admit_due(date(2026, 3, 16))
    pending = ChannelAccess.objects.filter(user=returning, done_at=None)
    assert sorted(pending.values_list("channel__name", flat=True)) == ["Liste", "Ordner"]
