"""Sending a mailing: batches, claims and one e-mail per delivery, at most once.

A batch first claims its deliveries (queued → sending, with a claim token, committed), then
sends each one inside its own transaction that holds the delivery's row lock and commits
`sent` together with the provider's message id. If the worker dies, the open transaction
is rolled back and the claim is left behind; `requeue_interrupted` hands claims that are
older than the lease and not locked by a living worker back to the queue. A delivery that
committed `sent` is never claimed again, so no member gets the mailing twice from us.

The provider call cannot be part of our transaction: a worker killed in the instant after
the provider accepted a message and before the commit leaves that one delivery claimed but
not sent. If the provider's "delivered" event arrives within the lease, the webhook marks it
sent and it is not sent again; otherwise it is sent again on resume (at most one message
per killed worker). No provider offers an idempotent send through anymail that would close
this gap entirely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from anymail.message import AnymailMessage
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_noop

from mailings import content
from mailings.models import Delivery, Mailing, Suppression
from members.models import Member, MemberStatus

logger = logging.getLogger(__name__)

UNSUBSCRIBE_MARK = "%%UNSUBSCRIBE_URL%%"
MAX_ATTEMPTS = 3


# --- The message ---------------------------------------------------------------------


def unsubscribe_token(delivery_id: int, member_id: int, secret: str | None = None) -> str:
    return salted_hmac(
        "mailings.unsubscribe", f"{delivery_id}:{member_id}", secret=secret, algorithm="sha256"
    ).hexdigest()[:40]


def token_matches(delivery: Delivery, token: str) -> bool:
    """Links in mailings sent before the secret key was rotated keep working: the previous keys
    (DJANGO_SECRET_KEY_FALLBACKS) are tried too."""
    return any(
        constant_time_compare(unsubscribe_token(delivery.pk, delivery.member_id, secret), token)
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )


def unsubscribe_url(delivery_id: int, member_id: int) -> str:
    path = reverse(
        "mailings:unsubscribe", args=[delivery_id, unsubscribe_token(delivery_id, member_id)]
    )
    return f"{settings.SITE_URL}{path}"


@dataclass(frozen=True)
class Rendered:
    """A mailing rendered once; each recipient's copy only fills in personal fields."""

    mailing: Mailing
    from_email: str
    html: str
    text: str
    attachment: tuple[str, bytes, str] | None

    @classmethod
    def of(cls, mailing: Mailing) -> Rendered:
        context = {
            "mailing": mailing,
            "division": mailing.division.name,
            "body": mark_safe(content.to_html(mailing.body)),  # noqa: S308 - sanitised by nh3
            "unsubscribe_url": UNSUBSCRIBE_MARK,
        }
        with translation.override(settings.LANGUAGE_CODE):
            html = render_to_string("emails/mailing/body.html", context)
            text = render_to_string("emails/mailing/body.txt", {**context, "body": mailing.body})
        address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        attachment = None
        if mailing.attachment_name and mailing.attachment is not None:
            attachment = (
                mailing.attachment_name,
                bytes(mailing.attachment),
                mailing.attachment_type or "application/octet-stream",
            )
        return cls(
            mailing=mailing,
            from_email=formataddr((mailing.sender_name, address)),
            html=html,
            text=text.strip() + "\n",
            attachment=attachment,
        )

    def message(
        self,
        *,
        to: str,
        personal: content.Personal,
        delivery_id: int | None = None,
        unsubscribe: str = "",
        subject_prefix: str = "",
    ) -> AnymailMessage:
        values = personal.values()
        mailing = self.mailing
        headers = {}
        if delivery_id is not None:
            domain = urlsplit(settings.SITE_URL).hostname or "localhost"
            headers["Message-ID"] = f"<mailing-{mailing.pk}.{delivery_id}@{domain}>"
        if mailing.is_newsletter and unsubscribe:
            # RFC 2369 and RFC 8058: mail programs offer a one-click "unsubscribe".
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message = AnymailMessage(
            subject=subject_prefix
            + content.fill(mailing.subject, values, html=False, single_line=True),
            body=content.fill(self.text, values, html=False).replace(UNSUBSCRIBE_MARK, unsubscribe),
            from_email=self.from_email,
            to=[to],
            reply_to=[mailing.reply_to],
            headers=headers,
        )
        html = content.fill(self.html, values, html=True)
        message.attach_alternative(html.replace(UNSUBSCRIBE_MARK, escape(unsubscribe)), "text/html")
        if self.attachment:
            message.attach(*self.attachment)
        if delivery_id is not None:
            # Comes back with the provider's tracking events.
            message.metadata = {"delivery": str(delivery_id), "mailing": str(mailing.pk)}
            message.tags = ["mailing"]
        return message


def personal_fields(member: Member) -> content.Personal:
    return content.Personal(
        first_name=member.first_name,
        last_name=member.last_name,
        membership_number=str(member.membership_number),
        division=member.division.name,
    )


SAMPLE = content.Personal(
    first_name="Erika",
    last_name="Musterfrau",
    membership_number="123456",
    division="Musterstadt",
)


def sample_unsubscribe_url() -> str:
    return f"{settings.SITE_URL}{reverse('mailings:unsubscribe_sample')}"


def test_send(*, mailing: Mailing, to: str) -> None:
    """The mailing as the sample member would get it, to the sender's own address."""
    rendered = Rendered.of(mailing)
    message = rendered.message(
        to=to,
        personal=SAMPLE,
        unsubscribe=sample_unsubscribe_url() if mailing.is_newsletter else "",
        subject_prefix="[Test] ",
    )
    with mail.mailers.default as connection:
        connection.send_messages([message])


# --- Batches ---------------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=settings.MAILING_CLAIM_LEASE)


def requeue_interrupted(mailing: Mailing) -> int:
    """Hand claims of a dead worker back to the queue (row locks show the living ones)."""
    with transaction.atomic():
        stale = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(
                mailing=mailing,
                status=Delivery.Status.SENDING,
                claimed_at__lt=timezone.now() - _lease(),
            )
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=stale).update(
            status=Delivery.Status.QUEUED, claim="", claimed_at=None
        )
    if stale:
        logger.warning("Mailing %s: %d interrupted deliveries queued again", mailing.pk, len(stale))
    return len(stale)


def resume_abandoned() -> list[int]:
    """Mailings still sending whose task chain has not been heard of within the lease: the
    worker that ran it died. Each gets a new chain; the old one stops if it ever returns."""
    from mailings import services

    cutoff = timezone.now() - _lease()
    resumed = []
    for mailing in Mailing.objects.filter(status=Mailing.Status.SENDING, heartbeat_at__lt=cutoff):
        services.resume_mailing(by=None, mailing=mailing)
        resumed.append(mailing.pk)
    return resumed


def _claim(mailing: Mailing, size: int) -> tuple[str, list[int]]:
    token = uuid4().hex
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(mailing=mailing, status=Delivery.Status.QUEUED)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.SENDING,
            claim=token,
            claimed_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    return token, ids


def _finish_if_done(mailing: Mailing, chain: str) -> bool:
    open_ = Delivery.objects.filter(
        mailing=mailing, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    ).exists()
    if open_:
        return False
    Mailing.objects.filter(pk=mailing.pk, chain=chain, status=Mailing.Status.SENDING).update(
        status=Mailing.Status.SENT, finished_at=timezone.now(), chain=""
    )
    return True


@dataclass(frozen=True)
class BatchResult:
    outcome: str  # "more", "wait" (others hold claims), "done" or "stopped"
    sent: int = 0


def send_batch(mailing_id: int, chain: str, size: int | None = None) -> BatchResult:
    """Send up to `size` deliveries of the mailing, if `chain` is still the one to send."""
    size = size or settings.MAILING_BATCH_SIZE
    mailing = Mailing.objects.select_related("division").get(pk=mailing_id)
    if mailing.status != Mailing.Status.SENDING or mailing.chain != chain:
        return BatchResult("stopped")
    Mailing.objects.filter(pk=mailing.pk).update(heartbeat_at=timezone.now())
    token, ids = _claim(mailing, size)
    if not ids:
        if requeue_interrupted(mailing):
            return BatchResult("more")
        return BatchResult("done" if _finish_if_done(mailing, chain) else "wait")

    rendered = Rendered.of(mailing)
    # The members of the audience frozen through the access rule when sending started (the
    # worker has no user); _send_one checks each is still current and in the division.
    members = Member.objects.select_related("division").in_bulk(
        Delivery.objects.filter(pk__in=ids).values_list("member_id", flat=True)
    )
    sent = 0
    with mail.mailers.default as connection:
        for delivery_id in ids:
            sent += _send_one(rendered, connection, delivery_id, token, members)
    return BatchResult("more", sent)


def _send_one(
    rendered: Rendered, connection: Any, delivery_id: int, token: str, members: dict[int, Member]
) -> int:
    mailing = rendered.mailing
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=Delivery.Status.SENDING, claim=token)
            .first()
        )
        if delivery is None:  # handed to another worker meanwhile
            return 0
        member = members[delivery.member_id]
        now = timezone.now()
        delivery.updated_at = now
        fields = ["status", "updated_at", "error", "sent_at", "message_id"]
        if member.status == MemberStatus.ENDED or not member.division.path.startswith(
            mailing.division.path
        ):
            # Left the party or moved to another division since sending started.
            delivery.status = Delivery.Status.FAILED
            delivery.error = gettext_noop("no longer a member of the division")
            delivery.save(update_fields=fields)
            return 0
        if mailing.is_newsletter and not member.newsletter_consent:
            delivery.status = Delivery.Status.UNSUBSCRIBED
            delivery.save(update_fields=fields)
            return 0
        if Suppression.objects.filter(email=delivery.email.lower()).exists():
            delivery.status = Delivery.Status.FAILED
            delivery.error = gettext_noop("address blocked after bounces or complaints")
            delivery.save(update_fields=fields)
            return 0
        message = rendered.message(
            to=delivery.email,
            personal=personal_fields(member),
            delivery_id=delivery.pk,
            unsubscribe=unsubscribe_url(delivery.pk, member.pk) if mailing.is_newsletter else "",
        )
        try:
            connection.send_messages([message])
        except Exception as error:  # the provider's errors are many; each is kept
            logger.warning("Mailing %s, delivery %s: %s", mailing.pk, delivery.pk, error)
            give_up = delivery.attempts >= MAX_ATTEMPTS
            delivery.status = Delivery.Status.FAILED if give_up else Delivery.Status.QUEUED
            delivery.error = f"{type(error).__name__}: {error}"[:500]
            delivery.save(update_fields=[*fields, "claim"])
            return 0
        status = getattr(message, "anymail_status", None)
        if status is not None and status.status and status.status <= {"rejected", "invalid"}:
            delivery.status = Delivery.Status.FAILED
            delivery.error = gettext_noop("rejected by the provider")
        else:
            delivery.status = Delivery.Status.SENT
            delivery.error = ""
        message_id = status.message_id if status is not None else None
        delivery.message_id = str(message_id or message.extra_headers.get("Message-ID", ""))[:200]
        delivery.sent_at = now
        delivery.save(update_fields=fields)
        return 1
