"""Veto reasons, candidate notes and mediation notes reach coordinators (and mediators for
their mediation's notes) only: every onboarding URL, as every role, and the admin."""

from datetime import date

import pytest
from django.urls import URLPattern, get_resolver, reverse

from onboarding import services
from onboarding.models import CircleMembership, CircleRole
from tests.factories import make_user
from tests.onboarding.conftest import found, join, meet, register

pytestmark = pytest.mark.django_db

VETO = "GEHEIM-VETO-GRUND"
NOTE = "GEHEIM-NOTIZ"
MEDIATION = "GEHEIM-MEDIATION"

URL_ARGS = {
    "onboarding:index": lambda o: [],
    "onboarding:circle_new": lambda o: [],
    "onboarding:circle_detail": lambda o: [o["circle"].pk],
    "onboarding:circle_settings": lambda o: [o["circle"].pk],
    "onboarding:circle_people": lambda o: [o["circle"].pk],
    "onboarding:candidate_new": lambda o: [o["circle"].pk],
    "onboarding:channel_work": lambda o: [o["circle"].pk],
    "onboarding:mediation_new": lambda o: [o["circle"].pk],
    "onboarding:removal_new": lambda o: [o["circle"].pk, o["party"].pk],
    "onboarding:membership_role": lambda o: [o["membership"].pk],
    "onboarding:candidate_detail": lambda o: [o["candidate"].pk],
    "onboarding:candidate_answer": lambda o: [o["candidate"].pk],
    "onboarding:access_done": lambda o: [o["task"].pk],
    "onboarding:mediation_detail": lambda o: [o["mediation"].pk],
}


def test_every_onboarding_url_is_covered():
    resolver = get_resolver().namespace_dict["onboarding"][1]
    names = {f"onboarding:{p.name}" for p in resolver.url_patterns if isinstance(p, URLPattern)}
    assert names == set(URL_ARGS)


@pytest.fixture
def world(people, utopie, tree):
    coordinator, anna, bernd = people.coordinator, people.anna, people.bernd
    candidate = register(utopie, coordinator, notes=NOTE)
    meet(candidate, coordinator, date(2026, 2, 1), date(2026, 2, 8))
    services.open_veto_period(by=coordinator, candidate=candidate)
    services.answer(by=bernd, candidate=candidate, veto=True, reason=VETO)
    mediation = services.open_mediation(
        by=coordinator, circle=utopie, subject="Konflikt", parties=[anna], mediators=[coordinator]
    )
    services.record_session(
        by=coordinator,
        mediation=mediation,
        held_on=date(2026, 3, 1),
        outcome="not_resolved",
        notes=MEDIATION,
    )
    other = found(make_user("andere-koordination@example.org", None, None), "AG Digitales")
    join(other, anna, CircleRole.COORDINATOR)
    services.add_person(by=coordinator, circle=utopie, email="neu@example.org")
    task = utopie.channels.first().accesses.create(user=anna, action="grant")
    return {
        "circle": utopie,
        "candidate": candidate,
        "mediation": mediation,
        "party": anna,
        "membership": CircleMembership.objects.get(circle=utopie, user=anna),
        "task": task,
        "people": people,
        "tree": tree,
    }


def _roles(world):
    people = world["people"]
    tree = world["tree"]
    return {
        "anonymous": None,
        "account without circle": people.outsider,
        "circle member": people.anna,  # also coordinator of another circle, and a party
        "board of a state": make_user("vorstand-sn@example.org", tree.sn, "board"),
        "federal office": make_user("bund@example.org", None, None, federal=True),
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_nobody_but_coordinators_reads_reasons_and_notes(client, world, method):
    for role, user in _roles(world).items():
        client.logout()
        if user is not None:
            client.force_login(user)
        for name, args in URL_ARGS.items():
            response = getattr(client, method)(reverse(name, args=args(world)), follow=True)
            body = response.content.decode()
            for secret in (VETO, NOTE, MEDIATION):
                assert secret not in body, f"{secret} leaks to {role} at {name}"


def test_the_federal_admin_does_not_show_them_either(client, world):
    client.force_login(make_user("bund@example.org", None, None, federal=True))
    candidate, mediation = world["candidate"], world["mediation"]
    for url in [
        "/admin/onboarding/candidate/",
        f"/admin/onboarding/candidate/{candidate.pk}/change/",
        "/admin/onboarding/mediation/",
        f"/admin/onboarding/mediation/{mediation.pk}/change/",
        f"/admin/onboarding/circle/{world['circle'].pk}/change/",
        "/admin/members/auditentry/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert VETO not in body and NOTE not in body and MEDIATION not in body, url


def test_coordinators_read_them_and_members_only_their_own(client, world):
    people = world["people"]
    client.force_login(people.coordinator)
    page = client.get(reverse("onboarding:candidate_detail", args=[world["candidate"].pk]))
    assert VETO in page.content.decode() and NOTE in page.content.decode()
    page = client.get(reverse("onboarding:mediation_detail", args=[world["mediation"].pk]))
    assert MEDIATION in page.content.decode()
    client.force_login(people.bernd)
    own = client.get(reverse("onboarding:candidate_answer", args=[world["candidate"].pk]))
    assert VETO in own.content.decode()  # their own veto
    assert (
        client.get(reverse("onboarding:candidate_detail", args=[world["candidate"].pk])).status_code
        == 404
    )
