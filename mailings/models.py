from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from mailings import content


def validate_single_line(value: str) -> None:
    """E-mail headers: no line breaks or other control characters, also none of Unicode's
    line and paragraph separators (U+2028, U+2029, U+0085), which mail libraries split at."""
    if any(unicodedata.category(c) in {"Cc", "Zl", "Zp"} for c in value):
        raise ValidationError(_("Line breaks and control characters are not allowed here."))


class MailingSettings(models.Model):
    """A division's rules for its mailings (the division and everything below it)."""

    division = models.OneToOneField(
        "members.Division",
        on_delete=models.CASCADE,
        related_name="mailing_settings",
        verbose_name=_("division"),
    )
    release_required = models.BooleanField(
        _("a second board member must release each mailing"), default=False
    )

    class Meta:
        verbose_name = _("mailing settings")
        verbose_name_plural = _("mailing settings")

    def __str__(self) -> str:
        return str(self.division)


class MailingQuerySet(models.QuerySet["Mailing"]):
    def visible_to(self, user: Any, action: Any = None) -> MailingQuerySet:
        from members import access

        return access.scope_by_division(self, user, action or access.Action.SEND_MAILING)


class Mailing(models.Model):
    class Kind(models.TextChoices):
        OFFICIAL = "official", _("official (party business, to every member)")
        NEWSLETTER = "newsletter", _("newsletter (only members who consented)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        AWAITING_RELEASE = "awaiting_release", _("awaiting release")
        SENDING = "sending", _("sending")
        PAUSED = "paused", _("paused")
        SENT = "sent", _("sent")

    division = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        related_name="mailings",
        verbose_name=_("division"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    sender_name = models.CharField(
        _("sender name"), max_length=100, validators=[validate_single_line]
    )
    reply_to = models.EmailField(_("reply-to address"))
    subject = models.CharField(_("subject"), max_length=200, validators=[validate_single_line])
    body = models.TextField(_("text (Markdown)"))
    attachment_name = models.CharField(_("attachment"), max_length=200, blank=True)
    attachment_type = models.CharField(max_length=100, blank=True)
    attachment = models.BinaryField(_("attachment content"), null=True, blank=True)
    # Everyone who wrote or changed the text: none of them may release it.
    editors = models.JSONField(default=list, blank=True, editable=False)
    # The audience's narrowing, as chosen: {"divisions": [ids], "payment_statuses": [...],
    # "fee_classes": [...]}. Empty lists mean "all".
    audience = models.JSONField(_("audience"), default=dict, blank=True)

    created_by = models.ForeignKey(
        "members.User",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    requested_by = models.ForeignKey(
        "members.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sending asked by"),
    )
    released_by = models.ForeignKey(
        "members.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("released by"),
    )
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    started_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("sending finished"), null=True, blank=True)
    total = models.PositiveIntegerField(_("recipients"), null=True, blank=True)
    # Only the task chain holding the current token sends; resuming issues a new one, so a
    # chain that lost its worker and comes back late stops by itself.
    chain = models.CharField(max_length=32, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MailingQuerySet.as_manager()

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status"], name="mailings_mailing_status")]

    def __str__(self) -> str:
        return self.display_subject

    @property
    def display_subject(self) -> str:
        """The subject for lists and titles: personal fields as labels („Hallo [Vorname]“)."""
        return content.with_labels(self.subject)

    @property
    def is_newsletter(self) -> bool:
        return self.kind == self.Kind.NEWSLETTER


class Delivery(models.Model):
    """One mailing to one member: created when sending starts, sent at most once."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        BOUNCED = "bounced", _("bounced")
        COMPLAINED = "complained", _("complained")
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")

    mailing = models.ForeignKey(
        Mailing, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("mailing")
    )
    # Emptied with the address once the retention period is over (privacy.retention): the
    # row stays for the mailing's figures.
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        related_name="deliveries",
        verbose_name=_("member"),
    )
    # The address as it was when the mailing went out.
    email = models.CharField(_("e-mail"), max_length=254)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, db_default=Status.QUEUED
    )
    claim = models.CharField(max_length=32, db_default="", editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    message_id = models.CharField(_("provider message id"), max_length=200, db_default="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), db_default=0)
    error = models.CharField(_("error"), max_length=500, db_default="")
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["mailing", "member"], name="mailings_delivery_once_per_member"
            )
        ]
        indexes = [
            models.Index(fields=["mailing", "status", "id"], name="mailings_delivery_status"),
            models.Index(fields=["message_id"], name="mailings_delivery_message"),
            models.Index(fields=["member", "status"], name="mailings_delivery_member"),
        ]

    def __str__(self) -> str:
        return f"{self.mailing} → {self.email}"


class Suppression(models.Model):
    """An address no mailing goes to any more: it bounced hard or its owner complained.

    Kept by address, not on the member, so that an import or an edit that writes the same
    address again does not quietly lift it; a new address is not suppressed.
    """

    class Reason(models.TextChoices):
        BOUNCED = "bounced", _("bounced")
        COMPLAINED = "complained", _("complained (marked as spam)")
        REJECTED = "rejected", _("rejected by the provider")

    email = models.CharField(_("e-mail"), max_length=254, unique=True)  # lower case
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email


class WebhookEvent(models.Model):
    """A tracking event the provider reported; each is applied once (replays change nothing)."""

    esp = models.CharField(max_length=30)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=30)
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        constraints = [
            models.UniqueConstraint(fields=["esp", "event_id"], name="mailings_webhook_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.esp} {self.event_type} {self.event_id}"


class AudienceFigure(models.Model):
    """How many current members of a division have this fee class, payment status, kind of
    address and newsletter consent: a mailing's audience is counted from these rows (a few
    per division) instead of from the members, however many a state holds.

    Kept on PostgreSQL by triggers on the member table and on the suppressed addresses
    (migration 0008), so every write counts, the services' and the bulk ones alike; the
    weekly repair (mailings.tasks.repair_audience_figures) recomputes them and reports drift.
    The embedded SQLite counts the members themselves."""

    class Address(models.TextChoices):
        MISSING = "missing", _("no e-mail address")
        BLOCKED = "blocked", _("address suppressed")
        USABLE = "usable", _("usable address")

    division = models.ForeignKey("members.Division", on_delete=models.CASCADE, related_name="+")
    fee_class = models.CharField(max_length=20)
    payment_status = models.CharField(max_length=20)
    address = models.CharField(max_length=7, choices=Address.choices)
    newsletter_consent = models.BooleanField()
    count = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("audience count")
        verbose_name_plural = _("audience counts")
        constraints = [
            models.UniqueConstraint(
                fields=["division", "fee_class", "payment_status", "address", "newsletter_consent"],
                name="mailings_audiencefigure_one_per_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.division_id} {self.fee_class} {self.address}: {self.count}"
