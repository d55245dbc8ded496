"""Erasure on request for people who are not members; who can see a member, and the warning
where too many can."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import Division, User
from onboarding.models import Candidate, Circle, Meeting
from outbox import services as outbox
from outbox.models import OutboundEmail
from privacy import erasure, need_to_know
from privacy.models import ErasureLog
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def declined(board_sn):
    circle = Circle.objects.create(name="Utopie25")
    candidate = Candidate.objects.create(
        circle=circle,
        first_name="Nele",
        last_name="Nein",
        email="nele@example.org",
        state="declined",
        registered_by=board_sn,
        notes="vertraulich",
    )
    Meeting.objects.create(
        candidate=candidate, held_on=date(2026, 2, 1), met_by="Uta", recorded_by=board_sn
    )
    outbox.queue(to=["Nele@example.org"], subject="Danke", text="Hallo Nele")
    OutboundEmail.objects.update(status="sent")
    return candidate


def test_erasure_on_request_previews_then_erases_and_logs(client, declined, federal_admin):
    account = User.objects.create_user("nele@example.org", first_name="Nele")
    client.force_login(federal_admin)
    url = reverse("privacy:erasure")
    preview = client.get(url, {"email": "NELE@example.org"})
    found = preview.context["found"]
    assert found.candidates == [declined] and found.emails == 1 and found.account == account
    assert Candidate.objects.exists()  # looking writes nothing
    client.post(url, {"email": "nele@example.org", "digest": found.digest(), "checked": "on"})
    assert not Candidate.objects.exists() and not Meeting.objects.exists()
    assert not OutboundEmail.objects.exists()
    account.refresh_from_db()
    assert not account.is_active and account.email.endswith("@invalid") and not account.first_name
    log = ErasureLog.objects.get()
    assert (log.kind, log.number, log.count) == ("request", f"K{declined.pk}", 3)


def test_a_stale_preview_or_a_member_erases_nothing(client, tree, declined, federal_admin):
    client.force_login(federal_admin)
    url = reverse("privacy:erasure")
    client.post(url, {"email": "nele@example.org", "digest": "0" * 16, "checked": "on"})
    assert Candidate.objects.exists() and not ErasureLog.objects.exists()
    make_member(tree.leipzig, email="nele@example.org")
    found = erasure.find("nele@example.org")
    assert found.refused
    with pytest.raises(erasure.ErasureRefused):
        erasure.erase("nele@example.org", found.digest())
    page = client.get(url, {"email": "nele@example.org"})
    assert "gehört einem Mitglied" in page.text


def test_the_candidate_admin_action_leads_to_the_preview(client, declined, federal_admin):
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:onboarding_candidate_changelist"),
        {"action": "erase_on_request", "_selected_action": [declined.pk]},
    )
    assert response.status_code == 302
    assert response.url == reverse("privacy:erasure") + "?email=nele%40example.org"


def test_who_can_see_a_member_and_the_warning_over_the_limit(
    client, tree, board_sn, federal_admin, settings
):
    settings.MUSTERROLLE_NEED_TO_KNOW_LIMIT = 3
    member = make_member(tree.leipzig_sued)
    make_user("kv@example.org", tree.leipzig, "viewer")
    make_user("kasse@example.org", tree.sn, "treasurer")
    make_user("post@example.org", tree.leipzig, "mailing_sender")  # sees no members
    make_user("kiel@example.org", tree.kiel, "board")  # another state
    rows = {
        r.division.code: r
        for r in need_to_know.for_divisions(list(Division.objects.get_tree(tree.sn)))
    }
    leipzig_sued = rows[tree.leipzig_sued.code]
    # vorstand-sn, kv, kasse, and the federal office.
    assert leipzig_sued.people == 4 and leipzig_sued.too_many
    assert rows[tree.sn.code].people == 3 and not rows[tree.sn.code].too_many
    client.force_login(board_sn)
    page = client.get(reverse("privacy:need_to_know"), {"number": member.membership_number})
    assert "von 4 Personen gesehen" in page.text
    assert tree.kiel.name not in page.text  # a state board sees its own state
    detail = client.get(reverse("privacy:need_to_know_division", args=[tree.leipzig_sued.pk]))
    assert "kv@example.org" in detail.text and "post@example.org" not in detail.text
    assert (
        client.get(reverse("privacy:need_to_know_division", args=[tree.kiel.pk])).status_code == 404
    )


def test_the_report_costs_the_same_queries_for_more_people(client, tree, federal_admin):
    client.force_login(federal_admin)
    url = reverse("privacy:need_to_know")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(20):
        make_user(f"p{n}@example.org", [tree.leipzig, tree.kiel, tree.dresden][n % 3], "viewer")
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_a_district_board_or_a_viewer_has_no_report(client, tree, board_leipzig):
    client.force_login(board_leipzig)
    assert client.get(reverse("privacy:need_to_know")).status_code == 404
    assert client.get(reverse("privacy:retention")).status_code == 404
