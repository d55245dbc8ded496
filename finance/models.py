"""Fee rules and the dues charged by them. Money is Decimal and append-only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import FeeClass, Member


class FeeRule(models.Model):
    """The yearly amount for a fee class, valid for a span of time."""

    fee_class = models.CharField(_("fee class"), max_length=10, choices=FeeClass.choices)
    yearly_amount = models.DecimalField(_("yearly amount (€)"), max_digits=8, decimal_places=2)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    due_month = models.PositiveSmallIntegerField(_("due in month"), default=3)
    due_day = models.PositiveSmallIntegerField(_("due on day"), default=1)
    grace_days = models.PositiveSmallIntegerField(_("grace period (days)"), default=30)
    prorate_entry_year = models.BooleanField(_("pro rata in the year of entry"), default=True)
    tiers = models.CharField(
        _("tiers (€ per year)"),
        max_length=100,
        blank=True,
        help_text=_(
            "For the regular class: the amounts members choose from by income, e.g. 72,120,180,240,360,480,600."
        ),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("fee rule")
        verbose_name_plural = _("fee rules")
        ordering = ["fee_class", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(yearly_amount__gte=0), name="finance_feerule_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="finance_feerule_valid_range",
            ),
            models.CheckConstraint(
                condition=Q(due_month__gte=1, due_month__lte=12, due_day__gte=1, due_day__lte=28),
                name="finance_feerule_due_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_fee_class_display()}: {self.yearly_amount} € ab {self.valid_from}"


class Charge(models.Model):
    """Dues owed by a member for a year. Never edited: a correction reverses and re-charges."""

    class Kind(models.TextChoices):
        DUES = "dues", _("dues")
        REVERSAL = "reversal", _("reversal")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="charges", verbose_name=_("member")
    )
    year = models.PositiveSmallIntegerField(_("year"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DUES)
    # Dues rows of a member and year are numbered; the number makes a dues run that races
    # another one fail on the constraint instead of charging twice.
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    amount = models.DecimalField(_("amount (€)"), max_digits=9, decimal_places=2)
    due_on = models.DateField(_("due on"))
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["member", "year", "pk"]
        indexes = [
            models.Index(
                fields=["member", "due_on"], name="finance_charge_member_due", include=["amount"]
            ),
            models.Index(fields=["year", "kind"], name="finance_charge_year_kind"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year", "revision"],
                condition=Q(kind="dues"),
                name="finance_charge_one_per_revision",
            ),
            models.CheckConstraint(
                condition=(Q(kind="dues") & Q(reverses__isnull=True))
                | (Q(kind="reversal") & Q(reverses__isnull=False)),
                name="finance_charge_reversal_has_original",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.year} {self.amount} €"


class BankUpload(models.Model):
    """A bank file as uploaded: read and booked by the worker, never in the web request."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        IMPORTING = "importing", _("being booked")
        DONE = "done", _("booked")
        FAILED = "failed", _("refused")

    filename = models.CharField(_("file name"), max_length=255)
    content = models.BinaryField(editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    error = models.TextField(_("error"), blank=True)
    statement = models.ForeignKey(
        "finance.BankStatement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bank statement"),
    )

    class Meta:
        verbose_name = _("bank file upload")
        verbose_name_plural = _("bank file uploads")
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.filename


class BankStatement(models.Model):
    """An imported bank statement file; the same file is never booked twice."""

    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    statement_id = models.CharField(_("statement id"), max_length=100, blank=True)
    account_iban = models.CharField(_("account IBAN"), max_length=34, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    booked = models.PositiveIntegerField(_("booked"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    skipped = models.PositiveIntegerField(_("already booked or not a member payment"), default=0)

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.filename


class Payment(models.Model):
    """Money received (positive) or returned (negative). Never edited once matched."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("bank transfer")
        DIRECT_DEBIT = "direct_debit", _("direct debit")
        CASH = "cash", _("cash")
        RETURN = "return", _("returned direct debit")

    class Match(models.TextChoices):
        NUMBER = "number", _("membership number in the reference")
        IBAN = "iban", _("known IBAN")
        MANUAL = "manual", _("assigned by hand")
        SUGGESTED = "suggested", _("suggestion: name and amount")
        NONE = "none", _("unmatched")

    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("member"),
    )
    suggested_member = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("suggested member"),
    )
    match = models.CharField(_("match"), max_length=10, choices=Match.choices, default=Match.NONE)
    amount = models.DecimalField(_("amount (€)"), max_digits=9, decimal_places=2)
    booked_on = models.DateField(_("booked on"))
    method = models.CharField(
        _("method"), max_length=12, choices=Method.choices, default=Method.TRANSFER
    )
    reference = models.CharField(_("reference"), max_length=500, blank=True)
    counterparty_name = models.CharField(_("payer"), max_length=140, blank=True)
    counterparty_iban = models.CharField(_("payer's IBAN"), max_length=34, blank=True)
    # The bank's own reference of the booking; importing a statement again finds it.
    bank_reference = models.CharField(_("bank reference"), max_length=140, blank=True)
    end_to_end_id = models.CharField(_("end-to-end id"), max_length=140, blank=True)
    statement = models.ForeignKey(
        BankStatement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("bank statement"),
    )
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-booked_on", "-pk"]
        indexes = [
            models.Index(
                fields=["member", "booked_on"],
                name="finance_payment_member_booked",
                include=["amount"],
            ),
            models.Index(fields=["match"], name="finance_payment_match"),
            models.Index(fields=["counterparty_iban"], name="finance_payment_iban"),
            models.Index(fields=["end_to_end_id"], name="finance_payment_e2e"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["bank_reference"],
                condition=~Q(bank_reference=""),
                name="finance_payment_booked_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booked_on} {self.amount} € {self.counterparty_name}"


class MonthlyStatementQuerySet(models.QuerySet["MonthlyStatement"]):
    def visible_to(self, user: Any, action: Any = None) -> MonthlyStatementQuerySet:
        from members import access

        return access.scope_by_division(self, user, action or access.Action.RECEIVE_STATEMENT)


class MonthlyStatement(models.Model):
    """A state association's statement for a month: made once, sent once, kept."""

    class Status(models.TextChoices):
        READY = "ready", _("ready")
        SENDING = "sending", _("being sent")
        SENT = "sent", _("sent")

    division = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("state association"),
    )
    period = models.DateField(_("month"))  # the first day of the month
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.READY
    )
    figures = models.JSONField(_("figures"), default=dict)
    workbook = models.BinaryField(editable=False)
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = MonthlyStatementQuerySet.as_manager()

    class Meta:
        verbose_name = _("monthly statement")
        verbose_name_plural = _("monthly statements")
        ordering = ["-period", "division__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["division", "period"], name="finance_statement_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period__day=1), name="finance_statement_period_is_first_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.division} {self.period:%m/%Y}"
