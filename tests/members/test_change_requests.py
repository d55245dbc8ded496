"""Change requests: submitted by state boards, decided by the federal office, applied atomically."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members import services
from members.models import AuditEntry, ChangeRequest, Member, RequestKind, RequestStatus
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def address_change(board, member, street="Neue Straße 1"):
    return services.submit_change_request(
        by=board, kind=RequestKind.CONTACT, member=member, values={"street": street}
    )


def test_approval_applies_exactly_the_proposed_change_and_audits_it(
    tree, board_sn, federal_admin, mailoutbox, django_capture_on_commit_callbacks
):
    member = make_member(tree.leipzig, street="Alte Straße 1", city="Leipzig")
    before = member.register_values()
    request = address_change(board_sn, member)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_change_request(request=request, by=federal_admin)
    member.refresh_from_db()
    assert member.register_values() == {**before, "street": "Neue Straße 1"}
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (RequestStatus.APPLIED, federal_admin)
    version = member.versions.order_by("-version").first()
    assert (version.change_request, version.changes) == (
        request,
        {"street": ["Alte Straße 1", "Neue Straße 1"]},
    )
    assert AuditEntry.objects.filter(
        action="change_request.applied", object_id=str(request.pk)
    ).exists()
    assert [(m.to, m.subject) for m in mailoutbox] == [
        ([board_sn.email], f"Übernommen: Änderung von Kontakt oder Anschrift – {member.full_name}")
    ]


def test_rejection_changes_nothing_and_tells_the_reason(
    tree, board_sn, federal_admin, mailoutbox, django_capture_on_commit_callbacks
):
    member = make_member(tree.leipzig, street="Alte Straße 1")
    request = address_change(board_sn, member)
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_change_request(
            request=request, by=federal_admin, reason="Adresse unbekannt"
        )
    member.refresh_from_db()
    assert (member.street, member.version) == ("Alte Straße 1", 1)
    assert "Adresse unbekannt" in mailoutbox[0].body
    with pytest.raises(ValidationError):
        services.approve_change_request(request=request, by=federal_admin)


def test_a_stale_request_is_refused_and_flagged(tree, board_sn, federal_admin):
    member = make_member(tree.leipzig, street="Alte Straße 1")
    request = address_change(board_sn, member, street="Vorschlag 1")
    services.update_member(by=federal_admin, member=member, changes={"street": "Inzwischen 3"})
    with pytest.raises(services.StaleChangeRequest):
        services.approve_change_request(request=request, by=federal_admin)
    member.refresh_from_db()
    request.refresh_from_db()
    assert member.street == "Inzwischen 3"
    assert (request.status, request.is_stale) == (RequestStatus.OPEN, True)


def test_unrelated_later_changes_do_not_make_a_request_stale(tree, board_sn, federal_admin):
    member = make_member(tree.leipzig, street="Alte Straße 1", phone="")
    request = address_change(board_sn, member)
    services.update_member(by=federal_admin, member=member, changes={"phone": "0341 1"})
    services.approve_change_request(request=request, by=federal_admin)
    member.refresh_from_db()
    assert (member.street, member.phone) == ("Neue Straße 1", "0341 1")


def test_sachsen_board_cannot_submit_for_schleswig_holstein(client, tree, board_sn):
    foreign = make_member(tree.kiel)
    with pytest.raises(PermissionDenied):
        address_change(board_sn, foreign)
    with pytest.raises(PermissionDenied):
        services.submit_change_request(
            by=board_sn, kind=RequestKind.ENTRY, division=tree.kiel, values={"first_name": "X"}
        )
    client.force_login(board_sn)
    url = reverse("members:request_for_member", args=[foreign.pk, "contact"])
    assert (
        client.post(url, {"street": "Hack 1", "first_name": "a", "last_name": "b"}).status_code
        == 404
    )
    assert not ChangeRequest.objects.exists()


def test_only_the_federal_office_decides(tree, board_sn):
    request = address_change(board_sn, make_member(tree.leipzig))
    with pytest.raises(PermissionDenied):
        services.approve_change_request(request=request, by=board_sn)


def test_entry_exit_transfer_and_fee_class_requests_apply(tree, board_sn, federal_admin, new_year):
    member = make_member(tree.leipzig)
    leaving = make_member(tree.dresden)
    requests = [
        services.submit_change_request(
            by=board_sn,
            kind=RequestKind.ENTRY,
            division=tree.leipzig_sued,
            effective_on=new_year,
            values={
                "first_name": "Nora",
                "last_name": "Neu",
                "postal_code": "04277",
                "city": "Leipzig",
            },
        ),
        services.submit_change_request(
            by=board_sn,
            kind=RequestKind.FEE_CLASS,
            member=member,
            values={"fee_class": "reduced", "reduced_until": date(2026, 12, 31)},
        ),
        services.submit_change_request(
            by=board_sn,
            kind=RequestKind.TRANSFER,
            member=member,
            values={},
            target_division=tree.dresden,
            effective_on=new_year,
        ),
        services.submit_change_request(
            by=board_sn,
            kind=RequestKind.EXIT,
            member=leaving,
            values={"end_reason": "exit"},
            effective_on=new_year,
        ),
    ]
    for request in requests:
        services.approve_change_request(request=request, by=federal_admin)
    nora = Member.objects.get(last_name="Neu")
    member.refresh_from_db()
    leaving.refresh_from_db()
    assert (nora.division, nora.status, nora.joined_on) == (tree.leipzig_sued, "pending", new_year)
    assert (member.fee_class, member.division) == ("reduced", tree.dresden)
    assert (leaving.status, leaving.left_on) == ("ended", new_year)


def test_a_move_to_another_state_waits_for_its_consent_or_the_federal_office(
    client, tree, board_sn, board_sh, federal_admin
):
    member = make_member(tree.leipzig)
    request = services.submit_change_request(
        by=board_sn, kind=RequestKind.TRANSFER, member=member, values={}, target_division=tree.kiel
    )
    assert request.consented_at is None
    client.force_login(board_sh)
    consent_url = reverse("members:request_consent", args=[request.pk])
    assert consent_url in client.get(reverse("members:request_list")).text
    response = client.post(consent_url)
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.consented_by == board_sh
    # A move inside the own state needs nobody's consent.
    inside = services.submit_change_request(
        by=board_sn,
        kind=RequestKind.TRANSFER,
        member=make_member(tree.leipzig),
        values={},
        target_division=tree.dresden,
    )
    assert inside.consented_by == board_sn


def test_bulk_approval_is_one_transaction_per_request(client, tree, board_sn, federal_admin):
    members = [make_member(tree.leipzig, street="Alt 1") for _ in range(100)]
    requests = [
        address_change(board_sn, member, street=f"Neu {i}") for i, member in enumerate(members)
    ]
    services.update_member(by=federal_admin, member=members[50], changes={"street": "Dazwischen 9"})
    client.force_login(federal_admin)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            reverse("admin:members_changerequest_changelist"),
            {"action": "approve_selected", "_selected_action": [r.pk for r in requests]},
        )
    assert response.status_code == 302
    statuses = dict(ChangeRequest.objects.values_list("pk", "status"))
    assert sum(status == RequestStatus.APPLIED for status in statuses.values()) == 99
    assert statuses[requests[50].pk] == RequestStatus.OPEN
    assert Member.objects.get(pk=members[51].pk).street == "Neu 51"
    savepoints = [q for q in ctx.captured_queries if q["sql"].upper().startswith("SAVEPOINT")]
    assert len(savepoints) >= 100  # each request opened its own (nested) transaction


def test_board_submits_an_address_change_through_the_form(client, tree, board_sn):
    member = make_member(tree.leipzig, street="Alt 1", postal_code="04109", city="Leipzig")
    client.force_login(board_sn)
    url = reverse("members:request_for_member", args=[member.pk, "contact"])
    form_data = {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "street": "Neu 5",
        "postal_code": "4109",
        "city": "Leipzig",
    }
    response = client.post(url, form_data)
    assert "postal_code" in response.context["form"].errors  # a German postal code has five digits
    response = client.post(url, {**form_data, "postal_code": "04109"})
    assert response.status_code == 302
    request = ChangeRequest.objects.get()
    assert (request.proposed, request.base, request.base_version) == (
        {"street": "Neu 5"},
        {"street": "Alt 1"},
        1,
    )


def test_exit_cannot_be_requested_for_the_future(client, tree, board_sn, new_year):
    member = make_member(tree.leipzig)
    client.force_login(board_sn)
    url = reverse("members:request_for_member", args=[member.pk, "exit"])
    response = client.post(
        url, {"end_reason": "exit", "effective_on": date(2026, 2, 1).isoformat()}
    )
    assert "effective_on" in response.context["form"].errors


def test_a_request_that_changes_nothing_is_refused(tree, board_sn):
    member = make_member(tree.leipzig, fee_class="regular")
    with pytest.raises(ValidationError):
        services.submit_change_request(
            by=board_sn, kind=RequestKind.FEE_CLASS, member=member, values={"fee_class": "regular"}
        )


def test_an_exit_before_the_membership_began_is_refused_at_once(tree, board_sn):
    member = make_member(tree.leipzig, joined_on=date(2024, 1, 1))
    with pytest.raises(ValidationError):
        services.submit_change_request(
            by=board_sn,
            kind=RequestKind.EXIT,
            member=member,
            values={"end_reason": "exit"},
            effective_on=date(2019, 1, 1),
        )


def test_an_entry_with_a_future_date_of_birth_is_a_form_error(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.post(
        reverse("members:request_entry", args=[tree.sn.pk]),
        {
            "first_name": "A",
            "last_name": "B",
            "division": tree.leipzig.pk,
            "joined_on": "2026-01-01",
            "date_of_birth": "2999-01-01",
            "fee_class": "regular",
            "country": "DE",
        },
    )
    assert "date_of_birth" in response.context["form"].errors
    assert not ChangeRequest.objects.exists()


def test_consent_is_given_once(client, tree, board_sn, board_sh):
    request = services.submit_change_request(
        by=board_sn,
        kind=RequestKind.TRANSFER,
        member=make_member(tree.leipzig),
        values={},
        target_division=tree.kiel,
    )
    client.force_login(board_sh)
    url = reverse("members:request_consent", args=[request.pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 404


def test_a_second_click_does_not_enter_the_person_twice(tree, board_sn):
    values = {"first_name": "Nora", "last_name": "Neu"}
    services.submit_change_request(
        by=board_sn, kind=RequestKind.ENTRY, division=tree.leipzig, values=values
    )
    with pytest.raises(ValidationError):
        services.submit_change_request(
            by=board_sn, kind=RequestKind.ENTRY, division=tree.leipzig, values=values
        )


def test_nobody_joins_in_the_future(tree):
    with pytest.raises(ValidationError):
        services.admit_member(
            by=None,
            division=tree.leipzig,
            values={"first_name": "A", "last_name": "B"},
            joined_on=date(2999, 1, 1),
        )


def test_subjects_are_plain_text(
    tree, board_sn, federal_admin, mailoutbox, django_capture_on_commit_callbacks
):
    member = make_member(tree.leipzig, first_name="Seán", last_name="O'Brien & Co")
    request = services.submit_change_request(
        by=board_sn,
        kind=RequestKind.FEE_CLASS,
        member=member,
        values={"fee_class": "reduced", "reduced_until": date(2027, 3, 31)},
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_change_request(request=request, by=federal_admin)
    assert mailoutbox[0].subject.endswith("Seán O'Brien & Co")


def test_the_same_dues_tier_written_without_cents_is_no_change(client, tree, board_sn):
    """The register keeps 120.00 €; a board typing "120" asks for nothing new."""
    from decimal import Decimal

    member = make_member(tree.leipzig, fee_class="regular", dues_tier=Decimal("120.00"))
    client.force_login(board_sn)
    url = reverse("members:request_for_member", args=[member.pk, "fee_class"])
    response = client.post(url, {"fee_class": "regular", "dues_tier": "120"})
    assert response.status_code == 200
    assert "Es hat sich nichts geändert." in response.text
    assert not ChangeRequest.objects.exists()
    response = client.post(url, {"fee_class": "regular", "dues_tier": "180"})
    assert response.status_code == 302
    assert ChangeRequest.objects.get().proposed == {"fee_class": "regular", "dues_tier": "180.00"}
