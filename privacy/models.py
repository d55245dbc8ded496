"""What data protection itself has to remember: holds, notices given, erasures made."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LegalHold(models.Model):
    """Keeps a member's data from retention: a running dispute (an arbitration, a court
    case, a complaint) or a legal hold. Lifted, not deleted."""

    class Kind(models.TextChoices):
        DISPUTE = "dispute", _("running dispute")
        HOLD = "hold", _("legal hold")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="legal_holds",
        verbose_name=_("member"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=300)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("placed by"),
    )
    placed_on = models.DateField(_("placed on"))
    lifted_on = models.DateField(_("lifted on"), null=True, blank=True)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        indexes = [
            models.Index(
                fields=["member"],
                condition=models.Q(lifted_on__isnull=True),
                name="privacy_hold_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"


class RetentionNotice(models.Model):
    """A member was told that their data will be anonymised: once per member."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        LETTER = "letter", _("letter")

    member = models.OneToOneField(
        "members.Member",
        on_delete=models.CASCADE,
        related_name="retention_notice",
        verbose_name=_("member"),
    )
    # A letter counts from the day it was posted; until then both are empty.
    sent_on = models.DateField(_("told on"), null=True, blank=True)
    due_on = models.DateField(_("anonymised from"), null=True, blank=True)
    # The day a letter was on a downloaded letter list: only those can be recorded as posted.
    listed_on = models.DateField(_("on the letter list since"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=6, choices=Channel.choices)

    class Meta:
        verbose_name = _("retention notice")
        verbose_name_plural = _("retention notices")

    def __str__(self) -> str:
        return f"{self.member_id}: {self.sent_on} → {self.due_on}"


class ErasureLog(models.Model):
    """One line per erasure: which number, when, what kind of data. Nothing else."""

    class Kind(models.TextChoices):
        REGISTER = "register", _("register data of an ended membership")
        FINANCE = "finance", _("personal details in finance records")
        CANDIDATE = "candidate", _("onboarding candidate")
        ENTRY = "entry", _("rejected entry request")
        DELIVERIES = "deliveries", _("mailing deliveries and sent e-mails")
        UPLOADS = "uploads", _("uploaded member lists")
        ACCESS_LOG = "access_log", _("access log")
        REQUEST = "request", _("erasure on request")

    number = models.CharField(_("number"), max_length=40, blank=True)
    done_on = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    count = models.PositiveIntegerField(_("records"), default=1)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasure log")
        ordering = ["-done_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.done_on} {self.get_kind_display()} {self.number}"
