"""What comes back: unsubscribes and the provider's tracking events.

django-anymail checks each webhook call's signature (or basic-auth secret) before it sends
the `tracking` signal; a forged call never gets here. Each event is recorded once by its
(provider, event id): a replayed call is refused with 400 and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailings.models import Delivery, Suppression, WebhookEvent
from members import services as register

logger = logging.getLogger(__name__)


@transaction.atomic
def unsubscribe(*, delivery: Delivery) -> bool:
    """Withdraw the member's newsletter consent (versioned and audited). False if the link
    was used before: it works once."""
    delivery = Delivery.objects.select_for_update().select_related("mailing").get(pk=delivery.pk)
    if delivery.status == Delivery.Status.UNSUBSCRIBED:
        return False
    delivery.status = Delivery.Status.UNSUBSCRIBED
    delivery.updated_at = timezone.now()
    delivery.save(update_fields=["status", "updated_at"])
    member = delivery.member
    if member is not None and member.newsletter_consent:
        register.update_member(
            by=None,
            member=member,
            changes={"newsletter_consent": False},
            reason=f"Unsubscribed through the link in mailing no. {delivery.mailing_id}",
        )
    return True


def suppress(email: str, reason: str, detail: str = "", delivery: Delivery | None = None) -> None:
    email = email.strip().lower()
    if email:
        Suppression.objects.get_or_create(
            email=email,
            defaults={"reason": reason, "detail": detail[:500], "delivery": delivery},
        )


def _find_delivery(event: AnymailTrackingEvent) -> Delivery | None:
    metadata = event.metadata or {}
    # Its member may be gone (retention empties it): lock the delivery and its mailing only.
    qs = Delivery.objects.select_for_update(of=("self", "mailing")).select_related(
        "mailing", "member"
    )
    if str(metadata.get("delivery", "")).isdigit():
        found = qs.filter(pk=int(metadata["delivery"])).first()
        if found is not None:
            return found
    if event.message_id:
        return qs.filter(message_id=event.message_id).first()
    return None


# A temporary failure (mailbox full, greylisting) blocks an address only when it repeats.
SOFT_BOUNCES_TO_SUPPRESS = 3
_SMTP_CODE = re.compile(r"(?<![\d.])([245])(?:\d\d|\.\d{1,3}\.\d{1,3})(?![\d])")


def _permanent(event: AnymailTrackingEvent) -> bool:
    """A hard bounce: the provider says so, or the server answered with a 5xx code."""
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    data = raw.get("event-data") if isinstance(raw.get("event-data"), dict) else {}
    bounce = raw.get("bounce") if isinstance(raw.get("bounce"), dict) else {}
    if data.get("severity") == "permanent" or raw.get("Type") == "HardBounce":  # Mailgun, Postmark
        return True
    if bounce.get("bounceType") == "Permanent" or raw.get("event") == "hard_bounce":  # SES, Brevo
        return True
    if raw.get("Type") or bounce.get("bounceType") or raw.get("event") == "soft_bounce":
        return False  # the provider classified it, and not as permanent
    match = _SMTP_CODE.search(f"{event.mta_response or ''} {event.description or ''}")
    return bool(match and match.group(1) == "5")


def _soft_bounces(delivery: Delivery | None) -> int:
    """How often mail to this member's address bounced (this one included)."""
    if delivery is None:
        return 0
    return Delivery.objects.filter(
        member_id=delivery.member_id, email=delivery.email, status=Delivery.Status.BOUNCED
    ).count()


def _event_id(event: AnymailTrackingEvent) -> str:
    if event.event_id:
        return str(event.event_id)[:200]
    raw = json.dumps(event.esp_event, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def apply_event(event: AnymailTrackingEvent, esp_name: str) -> bool:
    """Apply one event; False if it was applied before (then nothing changes)."""
    try:
        with transaction.atomic():
            record = WebhookEvent.objects.create(
                esp=esp_name[:30], event_id=_event_id(event), event_type=event.event_type[:30]
            )
    except IntegrityError:
        return False
    delivery = _find_delivery(event)
    record.delivery = delivery
    record.save(update_fields=["delivery"])
    address = (delivery.email if delivery else event.recipient) or ""
    detail = event.description or event.mta_response or ""
    kind = event.event_type

    if kind == EventType.BOUNCED:
        _set(delivery, Delivery.Status.BOUNCED, detail)
        if _permanent(event) or _soft_bounces(delivery) >= SOFT_BOUNCES_TO_SUPPRESS:
            suppress(address, Suppression.Reason.BOUNCED, detail, delivery)
    elif kind == EventType.COMPLAINED:
        _set(delivery, Delivery.Status.COMPLAINED, detail)
        suppress(address, Suppression.Reason.COMPLAINED, detail, delivery)
    elif kind == EventType.REJECTED:
        _set(delivery, Delivery.Status.FAILED, detail or "rejected")
        if event.reject_reason in (RejectReason.BOUNCED, RejectReason.SPAM, RejectReason.INVALID):
            suppress(address, Suppression.Reason.REJECTED, detail, delivery)
    elif kind == EventType.UNSUBSCRIBED and delivery is not None:
        unsubscribe(delivery=delivery)
    elif (
        kind in (EventType.SENT, EventType.QUEUED, EventType.DELIVERED)
        and delivery is not None
        and delivery.status in (Delivery.Status.SENDING, Delivery.Status.QUEUED)
    ):
        # The provider has it: a delivery a dead worker left in doubt is settled.
        _set(delivery, Delivery.Status.SENT, "")
    return True


def _set(delivery: Delivery | None, status: str, detail: str) -> None:
    if delivery is None:
        return
    delivery.status = status
    delivery.error = detail[:500]
    delivery.updated_at = timezone.now()
    if status == Delivery.Status.SENT and delivery.sent_at is None:
        delivery.sent_at = delivery.updated_at
    delivery.save(update_fields=["status", "error", "updated_at", "sent_at"])


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    from mailings.webhooks import outcome

    new = apply_event(event, esp_name)
    counts = outcome.get()
    if counts is not None:
        counts["new" if new else "seen"] += 1
