"""The one way out for every e-mail the system sends.

Renders `templates/emails/<name>/{subject.txt,body.txt,body.html}` in the recipient's
language, keeps the result as an `OutboundEmail` row and sends it after the transaction
commits, through a Celery task, with the configured mailer (django-anymail or SMTP in
production, a file in development, locmem in tests). The outbox imports no domain app:
every app may send through it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ops import dispatch as dispatch_task
from outbox.models import OutboundAttachment, OutboundEmail

logger = logging.getLogger(__name__)

REMOVED = "[removed after sending: it contained a personal sign-in link]"


def render(name: str, context: Mapping[str, Any], language: str) -> tuple[str, str, str]:
    with translation.override(language):
        subject = render_to_string(f"emails/{name}/subject.txt", dict(context))
        text = render_to_string(f"emails/{name}/body.txt", dict(context))
        html = render_to_string(f"emails/{name}/body.html", dict(context))
    return " ".join(subject.split()), text.strip() + "\n", html


def queue(
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str = "",
    template: str = "",
    reply_to: Sequence[str] = (),
    sensitive: bool = False,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> OutboundEmail:
    """Keep the message and send it once the surrounding transaction has committed."""
    email = OutboundEmail.objects.create(
        template=template,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to),
        subject=subject[:300],
        body_text=text,
        body_html=html,
        sensitive=sensitive,
    )
    for filename, content, mimetype in attachments:
        OutboundAttachment.objects.create(
            email=email, filename=filename, content=content, mimetype=mimetype
        )
    # The id alone waits for the commit: a long transaction (a run of annual receipts in a
    # benchmark's) would otherwise hold every message's text until it ends.
    email_id = email.pk
    transaction.on_commit(lambda: dispatch(email_id))
    return email


def dispatch(email_id: int) -> None:
    """Hand an e-mail to the worker. Never raises: whatever goes wrong (the broker is down, or,
    with tasks run at once, the mailer fails) the row stays queued with its error and the
    safety net hands it on again, while the request, command or import that wrote it goes on.
    """
    from outbox import tasks

    try:
        # With the broker gone the hand-off is kept (ops.PendingTask) and made again within a
        # minute of its return; the row stays queued meanwhile.
        dispatch_task.send(tasks.send_email.name, [email_id], task=tasks.send_email)
    except Exception:  # a mailer's errors are many (tasks run at once); none may reach the caller
        logger.exception("E-mail %s could not be handed to the worker; it stays queued", email_id)


def send_templated(
    *,
    name: str,
    to: Sequence[str],
    context: Mapping[str, Any],
    language: str | None = None,
    reply_to: Sequence[str] = (),
    sensitive: bool = False,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> OutboundEmail:
    subject, text, html = render(name, context, language or settings.LANGUAGE_CODE)
    return queue(
        to=to,
        subject=subject,
        text=text,
        html=html,
        template=name,
        reply_to=reply_to,
        sensitive=sensitive,
        attachments=attachments,
    )


@dataclass(frozen=True)
class Templated:
    """One e-mail of a batch: its recipients, the template's context, its attachments."""

    to: Sequence[str]
    context: Mapping[str, Any]
    attachments: Sequence[tuple[str, bytes, str]] = ()


def send_templated_many(
    *, name: str, messages: Sequence[Templated], sensitive: bool = False
) -> list[int]:
    """Queue many e-mails of one template with two inserts (a year's receipts: thousands
    per batch), each sent once the surrounding transaction has committed."""
    language = settings.LANGUAGE_CODE
    emails = []
    for message in messages:
        subject, text, html = render(name, message.context, language)
        emails.append(
            OutboundEmail(
                template=name,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=list(message.to),
                reply_to=[],
                subject=subject[:300],
                body_text=text,
                body_html=html,
                sensitive=sensitive,
            )
        )
    emails = OutboundEmail.objects.bulk_create(emails)
    OutboundAttachment.objects.bulk_create(
        OutboundAttachment(email=email, filename=filename, content=content, mimetype=mimetype)
        for email, message in zip(emails, messages, strict=True)
        for filename, content, mimetype in message.attachments
    )
    ids = [email.pk for email in emails]
    transaction.on_commit(lambda: [dispatch(email_id) for email_id in ids])
    return ids


def queue_message(
    message: EmailMessage, *, template: str = "", sensitive: bool = False
) -> OutboundEmail:
    """Queue a message rendered elsewhere (django-allauth renders its own)."""
    html = ""
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            html = str(content)
    return queue(
        to=message.to,
        subject=str(message.subject),
        text=str(message.body),
        html=html,
        template=template,
        reply_to=message.reply_to,
        sensitive=sensitive,
    )


MAX_ATTEMPTS = 5


def send_email(*, email_id: int) -> str:
    """Send one queued e-mail. Claims the row first, so running twice sends once.

    Returns "sent", "skipped" (someone else has it or it is done), "retry" (the mailer
    failed; the row is queued again for a later attempt) or "failed" (given up).
    """
    claimed = OutboundEmail.objects.filter(pk=email_id, status=OutboundEmail.Status.QUEUED).update(
        status=OutboundEmail.Status.SENDING, claimed_at=timezone.now()
    )
    if not claimed:
        return "skipped"
    email = OutboundEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=email.to,
        reply_to=email.reply_to,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    for attachment in email.attachments.all():
        message.attach(attachment.filename, bytes(attachment.content), attachment.mimetype)
    try:
        message.send()
    except Exception as error:  # the mailer's errors are many; each is kept on the row
        logger.exception("Sending e-mail %s failed", email_id)
        attempts = email.attempts + 1
        give_up = attempts >= MAX_ATTEMPTS
        OutboundEmail.objects.filter(pk=email_id).update(
            status=OutboundEmail.Status.FAILED if give_up else OutboundEmail.Status.QUEUED,
            attempts=attempts,
            error=f"{type(error).__name__}: {error}"[:2000],
        )
        return "failed" if give_up else "retry"
    status = getattr(message, "anymail_status", None)
    sent = {
        "status": OutboundEmail.Status.SENT,
        "sent_at": timezone.now(),
        "message_id": (status.message_id or "") if status is not None else "",
    }
    if email.sensitive:
        sent |= {"body_text": REMOVED, "body_html": ""}
    OutboundEmail.objects.filter(pk=email_id).update(**sent)
    return "sent"


def requeue_stuck(
    *, waiting: timedelta = timedelta(minutes=10), sending: timedelta = timedelta(minutes=30)
) -> tuple[int, int]:
    """The scheduled safety net: hand e-mails that never reached a worker (broker down) to
    it again, and mark those a worker died on as failed: they may have gone out, so they
    are resent only by a person, from the admin."""
    now = timezone.now()
    waiting_ids = list(
        OutboundEmail.objects.filter(
            status=OutboundEmail.Status.QUEUED, created_at__lt=now - waiting
        ).values_list("pk", flat=True)[:5000]
    )
    for pk in waiting_ids:
        dispatch(pk)  # sending claims the row first: a duplicate task does nothing
    interrupted = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENDING, claimed_at__lt=now - sending
    ).update(
        status=OutboundEmail.Status.FAILED,
        error="Interrupted while sending: check whether it arrived, then resend from the admin if not.",
    )
    return len(waiting_ids), interrupted


def resend(*, email_ids: list[int]) -> int:
    """Queue failed e-mails again (a person decided to)."""
    ids = list(
        OutboundEmail.objects.filter(pk__in=email_ids, status=OutboundEmail.Status.FAILED)
        .exclude(body_text=REMOVED)
        .values_list("pk", flat=True)
    )
    OutboundEmail.objects.filter(pk__in=ids).update(status=OutboundEmail.Status.QUEUED, error="")
    for pk in ids:
        transaction.on_commit(lambda pk=pk: dispatch(pk))
    return len(ids)
