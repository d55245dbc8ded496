"""Sending: one delivery per recipient, at most once, paused and resumed, released by two."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from mailings import sending, services
from mailings.models import Delivery, Mailing, MailingSettings
from members import services as register
from members.models import AuditEntry
from tests.factories import make_member, make_user
from tests.mailings.conftest import write

pytestmark = pytest.mark.django_db


def _recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def test_compose_preview_test_send_and_send_through_the_pages(
    client, tree, board_sn, sachsen, django_capture_on_commit_callbacks
):
    client.force_login(board_sn)
    response = client.post(
        reverse("mailings:mailing_new", args=[tree.sn.pk]),
        {
            "kind": "newsletter",
            "sender_name": "Landesverband Sachsen",
            "reply_to": "lv@sachsen.example.org",
            "subject": "Neues aus Sachsen, {{ vorname }}",
            "body": "Hallo {{ vorname }},\n\n**Termine** im Herbst.",
        },
    )
    mailing = Mailing.objects.get()
    assert response.url == reverse("mailings:mailing_detail", args=[mailing.pk])

    preview = client.get(reverse("mailings:mailing_preview", args=[mailing.pk]))
    assert "Neues aus Sachsen, Erika" in preview.content.decode()
    as_member = client.get(reverse("mailings:mailing_preview", args=[mailing.pk]), {"as": "member"})
    assert "Neues aus Sachsen, Anna" in as_member.content.decode()
    frame = client.get(reverse("mailings:mailing_preview_html", args=[mailing.pk]))
    assert "<strong>Termine</strong>" in frame.content.decode()
    assert "script-src" not in frame.headers["Content-Security-Policy"]
    assert "default-src 'none'" in frame.headers["Content-Security-Policy"]

    client.post(reverse("mailings:mailing_test_send", args=[mailing.pk]))
    assert _recipients() == [board_sn.email]
    assert mail.outbox[0].subject == "[Test] Neues aus Sachsen, Erika"
    assert not Delivery.objects.exists()
    mail.outbox.clear()

    confirm = client.get(reverse("mailings:mailing_send", args=[mailing.pk]))
    assert "Jetzt an 2 Mitglieder senden" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mailings:mailing_send", args=[mailing.pk]))
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT
    assert _recipients() == sorted([sachsen["anna"].email, sachsen["clara"].email])
    anna = next(m for m in mail.outbox if m.to == [sachsen["anna"].email])
    assert anna.subject == "Neues aus Sachsen, Anna"
    assert anna.from_email == "Landesverband Sachsen <noreply@localhost>"
    assert anna.reply_to == ["lv@sachsen.example.org"]
    assert anna.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = Delivery.objects.get(member=sachsen["anna"])
    assert anna.extra_headers["List-Unsubscribe"] == (
        f"<{sending.unsubscribe_url(delivery.pk, sachsen['anna'].pk)}>"
    )
    assert anna.metadata == {"delivery": str(delivery.pk), "mailing": str(mailing.pk)}
    assert (
        f"Vom Newsletter abmelden: {sending.unsubscribe_url(delivery.pk, delivery.member_id)}"
        in (anna.body)
    )
    assert delivery.status == Delivery.Status.SENT
    assert delivery.message_id != ""
    page = client.get(reverse("mailings:mailing_detail", args=[mailing.pk]))
    assert b"100 %" in page.content
    assert AuditEntry.objects.filter(action="mailing.sending", object_id=str(mailing.pk)).exists()


def test_official_mailings_have_no_unsubscribe(
    tree, board_sn, sachsen, django_capture_on_commit_callbacks
):
    mailing = write(board_sn, tree.sn)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_sending(by=board_sn, mailing=mailing)
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        assert "List-Unsubscribe" not in message.extra_headers
        assert "abmelden" not in message.body.lower()


def test_sending_again_sends_nobody_twice(
    tree, board_sn, sachsen, django_capture_on_commit_callbacks
):
    mailing = write(board_sn, tree.sn)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_sending(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    with pytest.raises(ValidationError):
        services.request_sending(by=board_sn, mailing=mailing)
    # A late duplicate task, or a resume of a finished mailing, finds nothing to do.
    assert sending.send_batch(mailing.pk, mailing.chain).outcome == "stopped"
    services.resume_mailing(by=board_sn, mailing=mailing)
    assert len(mail.outbox) == 3


def test_pause_and_resume(tree, board_sn, settings, django_capture_on_commit_callbacks):
    for _ in range(5):
        make_member(tree.leipzig)
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)  # the task is not run yet
    mailing.refresh_from_db()
    assert sending.send_batch(mailing.pk, mailing.chain, size=2).sent == 2
    services.pause_mailing(by=board_sn, mailing=mailing)
    assert sending.send_batch(mailing.pk, mailing.chain, size=2).outcome == "stopped"
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.resume_mailing(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT
    assert len(mail.outbox) == 5
    assert len(set(_recipients())) == 5


def test_a_dead_workers_claims_are_sent_once_after_the_lease(tree, board_sn, settings):
    """A worker claimed a batch and died before sending: after the lease, the next worker
    sends those; what was sent stays sent."""
    for _ in range(4):
        make_member(tree.leipzig)
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    sending.send_batch(mailing.pk, mailing.chain, size=1)
    _token, claimed = sending._claim(mailing, 2)  # ... and the worker dies here
    assert len(claimed) == 2
    assert sending.requeue_interrupted(mailing) == 0  # still within the lease
    Delivery.objects.filter(pk__in=claimed).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.MAILING_CLAIM_LEASE + 1)
    )
    Mailing.objects.filter(pk=mailing.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.MAILING_CLAIM_LEASE + 1)
    )
    assert sending.resume_abandoned() == [mailing.pk]
    mailing.refresh_from_db()
    while sending.send_batch(mailing.pk, mailing.chain).outcome == "more":
        pass
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT
    assert len(mail.outbox) == 4
    assert len(set(_recipients())) == 4
    # The dead worker's chain, should its task come back, sends nothing.
    assert sending.send_batch(mailing.pk, "old-chain").outcome == "stopped"


def test_withdrawn_consent_before_the_batch_means_no_newsletter(tree, board_sn, sachsen):
    mailing = write(board_sn, tree.sn, kind="newsletter")
    services.request_sending(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    register.update_member(by=None, member=sachsen["anna"], changes={"newsletter_consent": False})
    sending.send_batch(mailing.pk, mailing.chain)
    assert _recipients() == [sachsen["clara"].email]
    assert Delivery.objects.get(member=sachsen["anna"]).status == Delivery.Status.UNSUBSCRIBED


def test_a_provider_error_is_retried_then_marked_failed(tree, board_sn, sachsen, settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.outbox.broken.EmailBackend"}}
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    for _ in range(sending.MAX_ATTEMPTS):
        sending.send_batch(mailing.pk, mailing.chain)
    assert sending.send_batch(mailing.pk, mailing.chain).outcome == "done"
    statuses = set(Delivery.objects.values_list("status", "attempts"))
    assert statuses == {(Delivery.Status.FAILED, sending.MAX_ATTEMPTS)}


def test_a_second_board_member_must_release_where_the_division_asks(
    client, tree, board_sn, sender_sn, sachsen, django_capture_on_commit_callbacks
):
    MailingSettings.objects.create(division=tree.sn, release_required=True)
    second = make_user("vorstand2-sn@example.org", tree.sn, "board")
    # Leipzig's mailings need it too: the setting covers the subtree.
    assert services.release_required(tree.leipzig)
    mailing = write(sender_sn, tree.sn)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_sending(by=sender_sn, mailing=mailing)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.AWAITING_RELEASE
    assert not Delivery.objects.exists()
    # The board members who may release it are asked, each in an e-mail of their own.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([board_sn.email, second.email])
    assert reverse("mailings:mailing_detail", args=[mailing.pk]) in mail.outbox[0].body
    assert "3 Mitglieder" in mail.outbox[0].body
    mail.outbox.clear()

    client.force_login(sender_sn)  # a sender is not a board member
    assert client.post(reverse("mailings:mailing_release", args=[mailing.pk])).status_code == 404
    own = write(board_sn, tree.sn, subject="Vom Vorstand")
    services.request_sending(by=board_sn, mailing=own)
    with pytest.raises(ValidationError):
        services.release_mailing(by=board_sn, mailing=own)  # not by its own author

    client.force_login(second)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mailings:mailing_release", args=[mailing.pk]))
    mailing.refresh_from_db()
    assert (mailing.status, mailing.released_by) == (Mailing.Status.SENT, second)
    assert len(mail.outbox) == 3
    page = client.get(reverse("mailings:mailing_detail", args=[mailing.pk])).content.decode()
    assert str(second) in page and str(sender_sn) in page


def test_editing_after_asking_for_release_needs_a_new_request(tree, board_sn, sachsen):
    MailingSettings.objects.create(division=tree.sn, release_required=True)
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)
    services.update_mailing(by=board_sn, mailing=mailing, values={"subject": "Geändert"})
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.DRAFT


def test_pages_take_a_constant_number_of_queries(
    client, tree, board_sn, sachsen, django_assert_max_num_queries
):
    client.force_login(board_sn)
    for n in range(3):
        services.request_sending(by=board_sn, mailing=write(board_sn, tree.sn, subject=f"M{n}"))
    mailing = Mailing.objects.first()
    with django_assert_max_num_queries(13):
        client.get(reverse("mailings:mailing_list"))
    with django_assert_max_num_queries(13):
        client.get(reverse("mailings:mailing_detail", args=[mailing.pk]))
    services.pause_mailing(by=board_sn, mailing=mailing)  # shows the undelivered list
    Delivery.objects.filter(mailing=mailing).update(status=Delivery.Status.BOUNCED)
    with django_assert_max_num_queries(13):
        client.get(reverse("mailings:mailing_detail", args=[mailing.pk]))
    with django_assert_max_num_queries(8):
        client.get(reverse("mailings:mailing_progress", args=[mailing.pk]))
    for _ in range(20):
        make_member(tree.dresden)
    for n in range(3, 6):
        services.request_sending(by=board_sn, mailing=write(board_sn, tree.sn, subject=f"M{n}"))
    with django_assert_max_num_queries(13):
        client.get(reverse("mailings:mailing_list"))


def test_an_attachment_goes_to_every_recipient_and_its_size_is_limited(
    client, tree, board_sn, sachsen, settings, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAILING_MAX_ATTACHMENT = 1000
    client.force_login(board_sn)
    post = {
        "kind": "official",
        "sender_name": "LV Sachsen",
        "reply_to": "lv@example.org",
        "subject": "Einladung",
        "body": "Siehe Anhang.",
    }
    url = reverse("mailings:mailing_new", args=[tree.sn.pk])
    too_large = SimpleUploadedFile("gross.pdf", b"%PDF" + b"x" * 1000, "application/pdf")
    response = client.post(url, {**post, "upload": too_large})
    assert response.status_code == 200
    assert "gross.pdf" not in response.content.decode()
    assert not Mailing.objects.exists()

    invitation = SimpleUploadedFile("einladung.pdf", b"%PDF-1.4 Einladung", "application/pdf")
    client.post(url, {**post, "upload": invitation})
    mailing = Mailing.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_sending(by=board_sn, mailing=mailing)
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        assert message.attachments[0][:2] == ("einladung.pdf", b"%PDF-1.4 Einladung")


def test_the_providers_delivered_event_settles_a_delivery_left_in_doubt(
    client, tree, board_sn, sachsen, settings
):
    """A worker died after the provider took the message: its report marks it sent, and
    a resume does not send it again."""
    import hashlib
    import hmac
    import json
    import time

    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "key"}
    settings.MAILING_TRACKING_ESP = "mailgun"
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)
    _token, claimed = sending._claim(mailing, 1)
    delivery = Delivery.objects.get(pk=claimed[0])
    stamp, token = str(int(time.time())), "t-delivered"
    signature = hmac.new(b"key", f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    body = {
        "signature": {"timestamp": stamp, "token": token, "signature": signature},
        "event-data": {
            "event": "delivered",
            "timestamp": time.time(),
            "recipient": delivery.email,
            "user-variables": {"delivery": str(delivery.pk)},
        },
    }
    response = client.post("/anymail/mailgun/tracking/", json.dumps(body), "application/json")
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    Delivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.MAILING_CLAIM_LEASE + 1)
    )
    mailing.refresh_from_db()
    while sending.send_batch(mailing.pk, mailing.chain).outcome == "more":
        pass
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        Delivery.objects.exclude(pk=delivery.pk).values_list("email", flat=True)
    )


def test_a_member_who_moved_or_left_after_the_start_is_not_written_to(tree, board_sn, sachsen):
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    register.transfer_member(by=None, member=sachsen["anna"], to=tree.kiel, on=date(2026, 1, 5))
    sending.send_batch(mailing.pk, mailing.chain)
    assert sachsen["anna"].email not in _recipients()
    anna = Delivery.objects.get(member=sachsen["anna"])
    assert (anna.status, anna.error) == (
        Delivery.Status.FAILED,
        "no longer a member of the division",
    )


def test_line_breaks_in_headers_are_refused(tree, board_sn):
    with pytest.raises(ValidationError):
        write(board_sn, tree.sn, subject="Hallo\r\nBcc: alle@example.org")
    with pytest.raises(ValidationError):
        write(board_sn, tree.sn, sender_name="LV\nBcc: alle@example.org")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
@pytest.mark.parametrize("field", ["subject", "sender_name"])
def test_unicode_line_separators_in_headers_are_refused_on_the_compose_page(
    client, tree, board_sn, field, separator
):
    values = {
        "kind": "official",
        "sender_name": "Landesverband Sachsen",
        "reply_to": "lv@sachsen.example.org",
        "subject": "Einladung",
        "body": "Hallo",
    }
    values[field] = f"Einladung{separator}Bcc: alle@example.org"
    client.force_login(board_sn)
    response = client.post(reverse("mailings:mailing_new", args=[tree.sn.pk]), values)
    assert response.status_code == 200
    assert "Zeilenumbrüche" in str(response.context["form"].errors[field])
    assert not Mailing.objects.exists()


def test_who_changed_the_text_cannot_release_it(tree, board_sn, sachsen):
    MailingSettings.objects.create(division=tree.sn, release_required=True)
    second = make_user("vorstand2-sn@example.org", tree.sn, "board")
    third = make_user("vorstand3-sn@example.org", tree.sn, "board")
    mailing = write(board_sn, tree.sn)
    services.update_mailing(by=second, mailing=mailing, values={"body": "Anderer Text"})
    services.request_sending(by=board_sn, mailing=mailing)
    mailing.refresh_from_db()
    assert not services.may_release(second, mailing)
    with pytest.raises(ValidationError):
        services.release_mailing(by=second, mailing=mailing)
    services.release_mailing(by=third, mailing=mailing)


def test_a_senders_edit_keeps_the_boards_payment_filter(client, tree, board_sn, sender_sn):
    mailing = write(board_sn, tree.sn, audience={"payment_statuses": ["in_arrears"]})
    client.force_login(sender_sn)
    client.post(
        reverse("mailings:mailing_edit", args=[mailing.pk]),
        {
            "kind": "official",
            "sender_name": "LV",
            "reply_to": "lv@example.org",
            "subject": "Tippfehler behoben",
            "body": "Text",
        },
    )
    mailing.refresh_from_db()
    assert mailing.subject == "Tippfehler behoben"
    assert mailing.audience["payment_statuses"] == ["in_arrears"]


def test_a_sender_previews_with_the_sample_member_only(client, tree, sender_sn, sachsen):
    mailing = write(sender_sn, tree.sn)
    client.force_login(sender_sn)
    page = client.get(reverse("mailings:mailing_preview", args=[mailing.pk]), {"as": "member"})
    content = page.content.decode()
    assert "Erika" in content
    assert sachsen["anna"].email not in content and "Anna" not in content
