"""The federal office books statements, works the unmatched queue and enters cash in the admin."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from finance.models import FeeRule, Payment
from members.models import AuditEntry
from tests.factories import make_member
from tests.finance.statements import entry, statement

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(tree):
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    return make_member(
        tree.leipzig, first_name="Jörg", last_name="Müller", joined_on=date(2020, 1, 1)
    )


def test_statement_upload_books_and_the_queue_is_worked(
    client, tree, federal_admin, member, django_capture_on_commit_callbacks
):
    client.force_login(federal_admin)
    content = statement(
        entry("120.00", ref="A1", reference=f"MB2026 {member.membership_number}"),
        entry("30.00", ref="A2", reference="Spende", name="Jörg Müller"),
        entry("5.00", ref="A3", reference="?", name="Niemand"),
    )
    with django_capture_on_commit_callbacks(execute=False) as waiting:
        response = client.post(
            reverse("admin:finance_bankstatement_upload"),
            {"file": SimpleUploadedFile("auszug.xml", content)},
        )
    assert response.status_code == 302
    # The web request only kept the file: nothing is booked until the worker has read it.
    assert not Payment.objects.exists()
    assert "wird gelesen" in client.get(response.url).text
    for callback in waiting:
        callback()
    result = client.get(response.url).text
    assert "3 Buchungen gebucht, 1 Mitgliedern zugeordnet" in result
    assert AuditEntry.objects.filter(action="bank_statement.imported", actor=federal_admin).exists()
    assert "Alle 3 Einträge der Datei:" in result and "Spenden" in result
    queue = client.get(reverse("admin:finance_payment_changelist"), {"review": "waiting"})
    assert {p.bank_reference for p in queue.context["cl"].result_list} == {"A2", "A3"}
    client.post(
        reverse("admin:finance_payment_changelist"),
        {"action": "accept_suggestions", "_selected_action": [p.pk for p in Payment.objects.all()]},
    )
    assert Payment.objects.get(bank_reference="A2").member == member
    unknown = Payment.objects.get(bank_reference="A3")
    response = client.post(
        reverse("admin:finance_payment_change", args=[unknown.pk]), {"member": member.pk}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    # 125 € of dues against the 120 € charged at admission; the 30 € donation settles nothing.
    assert member.balance == Decimal("5.00")
    assert member.status == "active"


def test_a_bad_statement_is_refused_with_the_reason(
    client, tree, federal_admin, member, django_capture_on_commit_callbacks
):
    client.force_login(federal_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:finance_bankstatement_upload"),
            {"file": SimpleUploadedFile("auszug.xml", b"<kein xml")},
        )
    page = client.get(response.url)
    assert page.context["upload"].status == "failed"
    assert "Nichts wurde gebucht" in page.text
    assert not Payment.objects.exists()


def test_cash_is_entered_by_hand(client, tree, federal_admin, member):
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:finance_payment_add"),
        {
            "member": member.pk,
            "amount": "20.00",
            "booked_on": "2026-02-01",
            "method": "cash",
            "reference": "Kasse",
        },
    )
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.match, payment.created_by) == ("manual", federal_admin)
    member.refresh_from_db()
    assert member.balance == Decimal("-100.00")  # 120 € charged at admission, 20 € paid
    assert member.status == "pending"  # the first dues are not paid in full yet


def test_staff_without_the_federal_permission_see_no_payments(client, tree, member):
    from django.contrib.auth.models import Permission

    from finance import payments
    from tests.factories import make_user

    payments.record_payment(
        member=member, amount=Decimal("5.00"), booked_on=date(2026, 1, 1), method="cash", by=None
    )
    helper = make_user("helfer@example.org", None, None)
    helper.is_staff = True
    helper.save()
    helper.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_payment", "view_charge", "view_bankstatement"]
        )
    )
    client.force_login(helper)
    for name in ["payment", "charge", "bankstatement"]:
        response = client.get(reverse(f"admin:finance_{name}_changelist"))
        assert list(response.context["cl"].result_list) == [], name


def test_an_unexpected_error_while_booking_is_shown_and_books_nothing(
    client, tree, federal_admin, member, monkeypatch, django_capture_on_commit_callbacks
):
    from finance import payments

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(payments, "import_statement", broken)
    client.force_login(federal_admin)
    content = statement(entry("120.00", ref="B1", reference=f"MB2026 {member.membership_number}"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:finance_bankstatement_upload"),
            {"file": SimpleUploadedFile("auszug.xml", content)},
        )
    page = client.get(response.url)
    assert page.context["upload"].status == "failed"
    assert "konnte nicht gelesen werden" in page.text
    assert not Payment.objects.exists()


def test_a_proposed_split_is_accepted_in_the_admin(client, tree, federal_admin, member):
    other = make_member(tree.dresden, first_name="Ida", last_name="Ohm")
    from finance import payments

    statement_ = payments.import_statement(
        content=statement(
            entry(
                "240.00",
                ref="S1",
                reference=f"MB2026 {member.membership_number}, MB2026 {other.membership_number}",
            )
        ),
        filename="a.xml",
        by=None,
    )
    waiting = Payment.objects.get(statement=statement_)
    client.force_login(federal_admin)
    client.post(
        reverse("admin:finance_payment_changelist"),
        {"action": "accept_proposed_splits", "_selected_action": [waiting.pk]},
    )
    parts = Payment.objects.filter(split_from=waiting).order_by("member__last_name")
    assert [(p.member, p.amount) for p in parts] == [
        (member, Decimal("120.00")),
        (other, Decimal("120.00")),
    ]
    queue = client.get(reverse("admin:finance_payment_changelist"), {"review": "waiting"})
    assert list(queue.context["cl"].result_list) == []
    client.post(reverse("admin:finance_payment_change", args=[waiting.pk]), {"member": member.pk})
    assert Payment.objects.filter(member=member).count() == 1  # divided: not assignable again
