"""The coordinator's and the member's pages, through HTTP."""

from datetime import date

import pytest
from django.urls import reverse

from onboarding.models import Candidate, CandidateState, ChannelAccess, Circle
from tests.factories import make_user
from tests.onboarding.conftest import meet, register

pytestmark = pytest.mark.django_db


def test_a_coordinator_takes_a_candidate_through_the_pages(client, people, utopie):
    client.force_login(people.coordinator)
    response = client.post(
        reverse("onboarding:candidate_new", args=[utopie.pk]),
        {"first_name": "Kim", "last_name": "Neu", "email": "kim@example.org", "notes": "n"},
    )
    candidate = Candidate.objects.get()
    assert response.url == reverse("onboarding:candidate_detail", args=[candidate.pk])
    url = reverse("onboarding:candidate_detail", args=[candidate.pk])
    for day in ("2026-02-01", "2026-02-08"):
        client.post(url, {"action": "meeting", "held_on": day, "met_by": "Uta"})
    client.post(url, {"action": "open"})
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.VETO_PERIOD
    board = client.get(reverse("onboarding:circle_detail", args=[utopie.pk])).content.decode()
    assert "Kim Neu" in board


def test_opening_too_early_explains_why(client, people, utopie):
    candidate = register(utopie, people.coordinator)
    meet(candidate, people.coordinator, date(2026, 2, 1))
    client.force_login(people.coordinator)
    response = client.post(
        reverse("onboarding:candidate_detail", args=[candidate.pk]), {"action": "open"}, follow=True
    )
    assert "Das Verfahren verlangt zuerst 2 Kennenlerntreffen." in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.GETTING_TO_KNOW


def test_a_member_answers_vetoes_and_withdraws(client, people, utopie):
    candidate = register(utopie, people.coordinator)
    meet(candidate, people.coordinator, date(2026, 2, 1), date(2026, 2, 8))
    from onboarding import services

    services.open_veto_period(by=people.coordinator, candidate=candidate)
    candidate.refresh_from_db()
    client.force_login(people.anna)
    index = client.get(reverse("onboarding:index")).content.decode()
    assert candidate.full_name in index
    url = reverse("onboarding:candidate_answer", args=[candidate.pk])
    response = client.post(url, {"choice": "veto", "reason": ""})
    assert response.status_code == 200  # a veto needs a reason
    assert not candidate.responses.exists()
    client.post(url, {"choice": "veto", "reason": "Ich habe Bedenken."})
    assert services.standing_vetoes(candidate).count() == 1
    client.post(url, {"choice": "withdraw"})
    assert services.standing_vetoes(candidate).count() == 0
    # Not a member of the circle: nothing to see.
    client.force_login(people.outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"choice": "veto", "reason": "x"}).status_code == 404


def test_channel_checklist_and_founding_a_circle(client, people, utopie, tree):
    task = ChannelAccess.objects.create(
        channel=utopie.channels.first(), user=people.anna, action="grant"
    )
    client.force_login(people.coordinator)
    page = client.get(reverse("onboarding:channel_work", args=[utopie.pk])).content.decode()
    assert people.anna.email in page
    client.post(reverse("onboarding:access_done", args=[task.pk]))
    task.refresh_from_db()
    assert task.done_by == people.coordinator
    # Only holders of the division role "onboarding coordinator" (or the federal office)
    # found circles.
    assert client.get(reverse("onboarding:circle_new")).status_code == 404
    founder = make_user("gruender@example.org", tree.bund, "onboarding_coordinator")
    client.force_login(founder)
    client.post(
        reverse("onboarding:circle_new"),
        {
            "name": "AG Frieden",
            "division": tree.bund.pk,
            "veto_days": 10,
            "meetings_required": 1,
            "mediations_before_removal": 2,
        },
    )
    circle = Circle.objects.get(name="AG Frieden")
    assert (circle.veto_days, circle.veto_blocks) == (10, False)
    assert client.get(reverse("onboarding:circle_detail", args=[circle.pk])).status_code == 200


def test_circle_people_need_a_second_factor(client, people, utopie, settings):
    settings.MUSTERROLLE_RELAX_MFA = False
    newcomer = make_user("ohne-mfa@example.org", None, None, mfa=False)
    from tests.onboarding.conftest import join

    join(utopie, newcomer)
    client.force_login(newcomer)
    response = client.get(reverse("onboarding:index"))
    assert response.status_code == 302
    assert response.url == reverse("mfa_index")


def test_coordinator_pages_take_a_constant_number_of_queries(
    client, people, utopie, django_assert_max_num_queries
):
    from onboarding import services

    client.force_login(people.coordinator)
    for n in range(3):
        register(utopie, people.coordinator, f"P{n}")
    services.open_mediation(
        by=people.coordinator,
        circle=utopie,
        subject="Konflikt",
        parties=[people.anna],
        mediators=[people.bernd],
    )
    board, index = (
        reverse("onboarding:circle_detail", args=[utopie.pk]),
        reverse("onboarding:index"),
    )
    client.get(board)  # settles the session (the second-factor check is made once)
    with django_assert_max_num_queries(14):
        client.get(board)
    for n in range(3, 12):
        candidate = register(utopie, people.coordinator, f"P{n}")
        meet(candidate, people.coordinator, date(2026, 2, 1), date(2026, 2, 8))
        services.open_veto_period(by=people.coordinator, candidate=candidate)
        services.open_mediation(
            by=people.coordinator,
            circle=utopie,
            subject=f"K{n}",
            parties=[people.anna],
            mediators=[people.bernd],
        )
    with django_assert_max_num_queries(14):
        client.get(board)
    client.force_login(people.anna)  # eleven open veto periods on her page
    client.get(index)  # settles her session, too
    with django_assert_max_num_queries(14):
        client.get(index)


def test_the_link_from_the_mail_still_works_after_the_period(client, people, utopie):
    from onboarding import services

    candidate = register(utopie, people.coordinator)
    meet(candidate, people.coordinator, date(2026, 2, 1), date(2026, 2, 8))
    services.open_veto_period(by=people.coordinator, candidate=candidate, today=date(2026, 3, 1))
    services.admit_due(date(2026, 3, 20))
    client.force_login(people.anna)
    page = client.get(reverse("onboarding:candidate_answer", args=[candidate.pk]))
    assert page.status_code == 200
    assert "Die Vetofrist ist abgelaufen." in page.content.decode()
    assert 'name="choice"' not in page.content.decode()


def test_mediators_find_their_mediations(client, people, utopie):
    from onboarding import services

    mediation = services.open_mediation(
        by=people.coordinator,
        circle=utopie,
        subject="Streit um den Kalender",
        parties=[people.anna],
        mediators=[people.bernd],
    )
    client.force_login(people.bernd)
    page = client.get(reverse("onboarding:index")).content.decode()
    assert reverse("onboarding:mediation_detail", args=[mediation.pk]) in page
    client.force_login(people.anna)  # a party: not listed, no access
    assert "Streit um den Kalender" not in client.get(reverse("onboarding:index")).content.decode()
