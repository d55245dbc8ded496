import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone as tz

from ops import dispatch
from ops.models import PendingTask
from outbox import services as outbox
from outbox.models import OutboundEmail
from outbox.tasks import send_email

pytestmark = pytest.mark.django_db


def queue_one() -> OutboundEmail:
    return outbox.queue(to=["a@example.org"], subject="Hallo", text="Text", html="<p>Text</p>")


def test_queued_email_is_sent_after_commit_with_text_and_html(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_one()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].body == "Text"
    assert mail.outbox[0].alternatives[0].content == "<p>Text</p>"
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.sent_at is not None


def test_send_task_running_twice_sends_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        email = queue_one()
    send_email(email.pk)
    send_email(email.pk)
    assert len(mail.outbox) == 1


def test_sending_waits_for_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue_one()
    assert len(callbacks) == 1  # the send waits for the commit
    assert len(mail.outbox) == 0


@override_settings(MAILERS={"default": {"BACKEND": "tests.outbox.broken.EmailBackend"}})
def test_a_failing_mailer_never_reaches_the_caller_and_is_given_up_after_five_attempts(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):  # tasks run at once, as in make run
        email = queue_one()
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert email.error == "ConnectionRefusedError: refused by the test mailer"
    for _ in range(4):  # the safety net's later tries
        outbox.send_email(email_id=email.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.FAILED, 5)


def test_a_mailer_that_cannot_even_be_built_leaves_the_email_queued(
    django_capture_on_commit_callbacks, settings
):
    """Production without a mail host: Django refuses to build the SMTP mailer at all."""
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_one()
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.QUEUED
    assert "InvalidMailer" in email.error


def test_a_broker_that_is_down_leaves_the_email_queued_for_the_safety_net(
    django_capture_on_commit_callbacks, monkeypatch
):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_email, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_one()
        second = queue_one()
    email.refresh_from_db()
    assert (email.status, email.attempts, len(mail.outbox)) == (OutboundEmail.Status.QUEUED, 0, 0)
    # The hand-off is kept and made again by the minutely job once the broker is back.
    assert PendingTask.objects.count() == 2
    monkeypatch.undo()
    PendingTask.objects.filter(args=[second.pk]).delete()  # as if that hand-off were lost
    assert dispatch.redispatch() == 1
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    # The ten-minute safety net hands on what never reached a worker either way.
    with time_machine.travel(tz.now() + timedelta(minutes=11)):
        assert outbox.requeue_stuck() == (1, 0)
    second.refresh_from_db()
    assert second.status == OutboundEmail.Status.SENT
    assert len(mail.outbox) == 2


@override_settings(MAILERS={"default": {"BACKEND": "tests.outbox.broken.EmailBackend"}})
def test_a_board_request_that_sends_mail_succeeds_while_the_mailer_fails(
    client, new_year, tree, board_sn, django_capture_on_commit_callbacks
):
    """The role invitation is e-mailed; the board sees its page, the admin the failed e-mail."""
    from members.models import RoleAssignment

    client.force_login(board_sn)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("members:role_grant", args=[tree.leipzig.pk]),
            {
                "email": "neu-im-vorstand@example.org",
                "first_name": "Nora",
                "last_name": "Neumann",
                "role": "viewer",
                "valid_from": "2026-01-01",
            },
        )
    assert response.status_code == 302
    assert RoleAssignment.objects.filter(user__email="neu-im-vorstand@example.org").exists()
    email = OutboundEmail.objects.get(to=["neu-im-vorstand@example.org"])
    assert email.status == OutboundEmail.Status.QUEUED
    assert "refused" in email.error


def test_seed_demo_runs_while_the_mailer_fails(settings, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    settings.MAILERS = {"default": {"BACKEND": "tests.outbox.broken.EmailBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", members=20, stdout=io.StringIO())
    assert OutboundEmail.objects.exclude(error="").exists()


def test_a_mailer_that_recovers_sends_on_the_next_attempt(
    django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=False):
        email = queue_one()
    settings.MAILERS = {"default": {"BACKEND": "tests.outbox.broken.EmailBackend"}}
    assert outbox.send_email(email_id=email.pk) == "retry"
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert outbox.send_email(email_id=email.pk) == "sent"
    email.refresh_from_db()
    assert (email.status, email.attempts, len(mail.outbox)) == (OutboundEmail.Status.SENT, 1, 1)


def test_templated_email_is_rendered_in_german_with_a_plain_text_part():
    subject, text, html = outbox.render(
        "invitation",
        {
            "user": SimpleNamespace(first_name="Nora", email="n@example.org"),
            "invited_by": None,
            "url": "https://x.example/set",
        },
        "de",
    )
    assert text.startswith("Hallo Nora,")
    assert subject == "Deine Einladung zu Musterrolle"
    assert "https://x.example/set" in text
    assert "<" not in text
    assert 'href="https://x.example/set"' in html


def test_development_mailer_writes_readable_text_with_whole_links(tmp_path):
    from outbox.backends import ReadableFileBackend

    link = "https://mitglieder.example.org/accounts/password/reset/key/7-abcdefghijklmnopqrstuvwxyz0123456789/"
    message = mail.EmailMultiAlternatives(
        "Einladung", f"Hallo Jörg,\n{link}\n", "a@example.org", ["b@example.org"]
    )
    message.attach_alternative("<p>Hallo</p>", "text/html")
    assert ReadableFileBackend(file_path=str(tmp_path)).send_messages([message]) == 1
    (written,) = tmp_path.glob("*.txt")
    text = written.read_text(encoding="utf-8")
    assert "Subject: Einladung" in text
    assert "Hallo Jörg," in text
    assert f"\n{link}\n" in text


def test_sign_in_links_are_hidden_in_the_admin_and_removed_after_sending(
    client, tree, federal_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = outbox.queue(
            to=["a@example.org"], subject="Link", text="https://x/reset/123", sensitive=True
        )
    assert mail.outbox[0].body == "https://x/reset/123"
    email.refresh_from_db()
    assert "reset/123" not in email.body_text
    client.force_login(federal_admin)
    response = client.get(reverse("admin:outbox_outboundemail_change", args=[email.pk]))
    assert "reset/123" not in response.text


def test_password_reset_mails_are_sensitive(
    client, tree, board_sn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": board_sn.email})
    sent = OutboundEmail.objects.get()
    assert sent.sensitive
    assert "Musterrolle" in mail.outbox[0].body  # the site name, not an empty one


def test_the_safety_net_sends_waiting_mails_once_and_flags_interrupted_ones(
    django_capture_on_commit_callbacks,
):
    import time_machine

    with django_capture_on_commit_callbacks(execute=False):
        waiting = queue_one()  # its task never reached a worker
        stuck = queue_one()
    OutboundEmail.objects.filter(pk=stuck.pk).update(
        status=OutboundEmail.Status.SENDING, claimed_at=tz.now()
    )
    with time_machine.travel(tz.now() + tz.timedelta(hours=1)):
        assert outbox.requeue_stuck() == (1, 1)
        assert outbox.requeue_stuck() == (0, 0)
    assert len(mail.outbox) == 1
    waiting.refresh_from_db()
    stuck.refresh_from_db()
    assert (waiting.status, stuck.status) == (
        OutboundEmail.Status.SENT,
        OutboundEmail.Status.FAILED,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.resend(email_ids=[stuck.pk]) == 1
    assert len(mail.outbox) == 2


def test_development_mailer_keeps_attachments_next_to_the_text(tmp_path):
    from outbox.backends import ReadableFileBackend

    message = mail.EmailMultiAlternatives("Kontoauszug", "Text", "a@example.org", ["b@example.org"])
    message.attach("kontoauszug.xlsx", b"PK\x03\x04data", "application/octet-stream")
    ReadableFileBackend(file_path=str(tmp_path)).send_messages([message])
    (text,) = tmp_path.glob("*.txt")
    (saved,) = tmp_path.glob("*-kontoauszug.xlsx")
    assert saved.read_bytes() == b"PK\x03\x04data"
    assert f"saved as {saved.name}" in text.read_text()
