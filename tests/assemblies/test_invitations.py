"""The invitation: an official mailing to the eligible, letters for those without e-mail."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from assemblies.models import Assembly
from finance.models import Charge
from mailings.models import Delivery, Suppression
from members import services
from members.models import AuditEntry
from tests.factories import make_member
from tests.finance.test_receipts import pages, pdf_text

pytestmark = pytest.mark.django_db


def _member(division, **values):
    member = make_member(division, **values)
    services.activate_members([member.pk], reason="first dues", on=date(2020, 1, 1))
    return member


@pytest.fixture
def convention(tree, board_sn):
    starts = timezone.localtime() + timedelta(days=70)
    return Assembly.objects.create(
        division=tree.sn,
        kind="convention",
        title="Landesparteitag Sachsen",
        starts_at=starts,
        place="Messe Leipzig",
        cutoff_on=timezone.localdate(),
        agenda="1. Eröffnung\n2. Wahl des Vorstands",
        created_by=board_sn,
    )


def test_the_invitation_reaches_the_eligible_and_letters_the_rest(
    client, tree, board_sn, convention, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "en"
    by_mail = _member(tree.leipzig, first_name="Erika")
    no_address = _member(tree.dresden, email="", first_name="Jörg", last_name="Ünal")
    bounced = _member(tree.leipzig)
    Suppression.objects.create(email=bounced.email, reason="bounce")
    owing = _member(tree.leipzig)
    Charge.objects.create(
        member=owing,
        year=2026,
        amount=Decimal("120.00"),
        due_on=date(2026, 3, 1),
        overdue_on=date(2026, 3, 31),
    )
    _member(tree.kiel)  # another state
    client.force_login(board_sn)
    url = reverse("assemblies:assembly_invite", args=[convention.pk])
    preview = client.get(url)
    assert "Erika" not in preview.text and "{{ mitgliedsnummer }}" in preview.text
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302

    convention.refresh_from_db()
    assert convention.invited_at is not None and convention.frozen_at is not None
    delivered = set(
        Delivery.objects.filter(mailing=convention.invitation).values_list("member_id", flat=True)
    )
    assert delivered == {by_mail.pk}
    [message] = [m for m in mail.outbox if m.to == [by_mail.email]]
    assert "Landesparteitag Sachsen" in message.subject
    assert str(by_mail.membership_number) in message.body and "Wahl des Vorstands" in message.body
    assert AuditEntry.objects.filter(action="assembly.invite").count() == 1

    letters = client.get(reverse("assemblies:assembly_letters", args=[convention.pk]))
    assert letters["Content-Type"] == "application/pdf" and pages(letters.content) == 2
    text = pdf_text(letters.content)
    assert "Jörg Ünal" in text and str(no_address.membership_number) in text
    assert str(bounced.membership_number) in text and str(owing.membership_number) not in text

    # A second send is refused: one invitation per assembly.
    client.post(url)
    assert Delivery.objects.count() == 1


def test_a_late_invitation_is_warned_about_and_recorded(client, tree, board_sn, convention):
    convention.starts_at = timezone.now() + timedelta(days=20)
    convention.save()
    _member(tree.leipzig)
    client.force_login(board_sn)
    url = reverse("assemblies:assembly_invite", args=[convention.pk])
    assert client.get(url).context["late"] is True
    client.post(url)
    assert AuditEntry.objects.get(action="assembly.invite").data["late"] is True


def test_an_invitation_edited_before_its_release_still_goes_to_the_eligible(
    tree, board_sn, convention
):
    from mailings.forms import MailingForm
    from mailings.models import MailingSettings
    from mailings.services import recipients

    MailingSettings.objects.create(division=tree.sn, release_required=True)
    eligible = _member(tree.leipzig)
    make_member(tree.leipzig)  # pending: not on the invitation's audience
    from assemblies.invitations import invite

    mailing = invite(assembly=convention, by=board_sn)
    assert mailing.status == "awaiting_release"
    form = MailingForm(
        data={
            "kind": "official",
            "sender_name": "Landesverband Sachsen",
            "reply_to": "lv@example.org",
            "subject": mailing.subject,
            "body": mailing.body + "\n\nNachtrag: Einlass ab 9 Uhr.",
        },
        instance=mailing,
        division=tree.sn,
        finance=False,
    )
    assert form.is_valid(), form.errors
    audience = form.audience()
    assert audience["assembly"] == convention.pk
    reached = recipients(tree.sn, "official", audience, board_sn)
    assert list(reached.values_list("pk", flat=True)) == [eligible.pk]
