"""Fee rules and the dues charged by them. Money is Decimal and append-only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Round
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
        # What the member owed in the previous system at the switch-over (finance.switchover).
        OPENING = "opening", _("opening balance")
        # The banks' charges for a returned debit, where the finance order passes them on.
        RETURN_FEE = "return_fee", _("return charges")

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
    # The end of the fee rule's grace period: unpaid after this day, the member is in arrears.
    overdue_on = models.DateField(_("in arrears from"))
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
            # The nightly calendar job: charges falling due or overdue in the last days.
            models.Index(fields=["due_on"], name="finance_charge_due"),
            models.Index(fields=["overdue_on"], name="finance_charge_overdue"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year", "revision"],
                condition=Q(kind="dues"),
                name="finance_charge_one_per_revision",
            ),
            models.CheckConstraint(
                condition=(Q(kind__in=["dues", "opening", "return_fee"]) & Q(reverses__isnull=True))
                | (Q(kind="reversal") & Q(reverses__isnull=False)),
                name="finance_charge_reversal_has_original",
            ),
            models.UniqueConstraint(
                fields=["member"], condition=Q(kind="opening"), name="finance_charge_one_opening"
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
    skipped = models.PositiveIntegerField(_("already booked before"), default=0)
    # Every entry of the file by what became of it: count and sum per outcome (dues matched,
    # donations, returns, review, other money out, booked before); the sums add up to the file.
    summary = models.JSONField(_("summary"), default=dict, blank=True)

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
        # A credit the member had in the previous system at the switch-over.
        OPENING = "opening", _("carried over from the previous system")

    class Match(models.TextChoices):
        NUMBER = "number", _("membership number in the reference")
        IBAN = "iban", _("known IBAN")
        MANUAL = "manual", _("assigned by hand")
        SUGGESTED = "suggested", _("suggestion: name and amount")
        SPLIT = "split", _("several members: split proposed")
        DIVIDED = "divided", _("split among members")
        DUPLICATE = "duplicate", _("possibly booked before (from another file)")
        NONE = "none", _("unmatched")

    class Purpose(models.TextChoices):
        DUES = "dues", _("dues")
        DONATION = "donation", _("donation")
        OTHER = "other", _("other")

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
    # Only dues settle charges; donations are reported per person and year; other money
    # (bank fees, refunds) belongs to no member's account.
    purpose = models.CharField(
        _("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.DUES
    )
    # A return's reason code as the bank gave it (e.g. AC04, MD06), for the review.
    return_reason = models.CharField(_("return reason"), max_length=35, blank=True)
    # A reference naming several members: the proposed parts, [{"member": id, "amount": "…"}],
    # until a person accepts them; the parts are then payments of their own (split_from).
    proposal = models.JSONField(_("proposed split"), default=list, blank=True)
    split_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="parts",
        verbose_name=_("part of"),
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
            # A bank file's bookings are compared with earlier ones of the same day and amount
            # (the same booking from a file of another format).
            models.Index(fields=["booked_on", "amount"], name="finance_payment_day_amount"),
            models.Index(
                fields=["purpose", "booked_on"],
                name="finance_payment_purpose",
                condition=Q(purpose="donation"),
            ),
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


class Reminder(models.Model):
    """A dues reminder sent to a member for one spell of arrears: level 1, then level 2 at
    least the configured interval later; each level once per spell (by constraint)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        LETTER = "letter", _("letter")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="reminders", verbose_name=_("member")
    )
    level = models.PositiveSmallIntegerField(_("level"))
    arrears_since = models.DateField(_("in arrears since"))
    sent_on = models.DateField(_("sent on"))
    amount = models.DecimalField(_("amount owed (€)"), max_digits=9, decimal_places=2)
    reference = models.CharField(_("payment reference"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-sent_on", "member"]
        indexes = [models.Index(fields=["sent_on", "channel"], name="finance_reminder_sent")]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "arrears_since", "level"], name="finance_reminder_once"
            ),
            models.CheckConstraint(condition=Q(level__in=[1, 2]), name="finance_reminder_level"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.level}. {self.sent_on}"


class StrikeOff(models.Model):
    """A member proposed for striking off the register after long arrears and two reminders.

    The federal office decides; the member is told and may object until `objection_until`;
    without an objection the membership ends (end reason: struck off) on that day.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        DECIDED = "decided", _("decided, objection period running")
        OBJECTED = "objected", _("objected")
        STRUCK_OFF = "struck_off", _("struck off")
        DROPPED = "dropped", _("dropped")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="strike_offs", verbose_name=_("member")
    )
    arrears_since = models.DateField(_("in arrears since"))
    proposed_on = models.DateField(_("proposed on"))
    amount = models.DecimalField(_("amount owed (€)"), max_digits=9, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PROPOSED
    )
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    objection_until = models.DateField(_("objection possible until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("strike-off")
        verbose_name_plural = _("strike-offs")
        ordering = ["-proposed_on", "member"]
        indexes = [models.Index(fields=["status", "objection_until"], name="finance_strike_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "arrears_since"], name="finance_strikeoff_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.get_status_display()}"


class ReductionNotice(models.Model):
    """The e-mail telling a member that their reduced dues end soon: once per reduction."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    reduced_until = models.DateField(_("reduced until"))
    sent_on = models.DateField(_("sent on"))

    class Meta:
        verbose_name = _("reduction notice")
        verbose_name_plural = _("reduction notices")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "reduced_until"], name="finance_reductionnotice_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.reduced_until}"


class Switchover(models.Model):
    """The federal office's one-time import of the existing register (finance.switchover):
    the file, its reconciliation report, and whether it was applied."""

    class Status(models.TextChoices):
        CHECKING = "checking", _("being checked")
        CHECKED = "checked", _("checked (dry run)")
        APPLYING = "applying", _("being applied")
        APPLIED = "applied", _("applied")
        FAILED = "failed", _("could not be read")

    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    content = models.BinaryField(editable=False)
    values = models.JSONField(
        _("value decisions"),
        default=dict,
        blank=True,
        help_text=_(
            'What values of the file mean, as JSON: {"division": {"KV Dresden": "SN-DD"}, '
            '"status": {"ruhend": "active"}, "dates": {"joined_on": {"partial": "first"}}}'
        ),
    )
    cutover_on = models.DateField(_("cut-over date"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CHECKING
    )
    report = models.JSONField(_("reconciliation report"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("switch-over")
        verbose_name_plural = _("switch-overs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class OpeningBalance(models.Model):
    """A member's balance in the previous system at the switch-over (negative: owed). The
    ledger carries it as one opening charge or credit; dues of the years before the
    switch-over's year are in it, and never charged again."""

    member = models.OneToOneField(
        Member, on_delete=models.PROTECT, related_name="opening_balance", verbose_name=_("member")
    )
    switchover = models.ForeignKey(
        Switchover, on_delete=models.PROTECT, related_name="balances", verbose_name=_("switch-over")
    )
    on = models.DateField(_("cut-over date"))
    balance = models.DecimalField(_("balance (€)"), max_digits=9, decimal_places=2)
    # The account the member paid from in the previous system: a bank file's payment from it
    # is the member's (finance.payments), before any payment here has shown it.
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, db_index=True)

    class Meta:
        verbose_name = _("opening balance")
        verbose_name_plural = _("opening balances")

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance} € on {self.on}"


class Mandate(models.Model):
    """A member's SEPA direct-debit mandate (CORE). Its reference is derived from the
    membership number; it is first used with sequence FRST, then RCUR; it ends by revocation,
    by a return that makes the account unusable, or by lapsing when unused for 36 months."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="mandates", verbose_name=_("member")
    )
    reference = models.CharField(_("mandate reference"), max_length=35, unique=True)
    signed_on = models.DateField(_("signed on"))
    holder = models.CharField(_("account holder"), max_length=70)
    iban = models.CharField(_("IBAN"), max_length=34)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    last_collected_on = models.DateField(_("last collected on"), null=True, blank=True)
    revoked_on = models.DateField(_("revoked on"), null=True, blank=True)
    unusable_since = models.DateField(_("unusable since"), null=True, blank=True)
    unusable_reason = models.CharField(_("return reason"), max_length=4, blank=True)
    # Dues in monthly instalments (finance order: only by direct debit, only from 36 € a
    # year); the dues run reads it when it charges a year.
    monthly = models.BooleanField(_("collected monthly"), default=False)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("SEPA mandate")
        verbose_name_plural = _("SEPA mandates")
        ordering = ["-signed_on", "-pk"]
        constraints = [
            # One mandate to collect from per member: a new one replaces (revokes) the old.
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(revoked_on__isnull=True, unusable_since__isnull=True),
                name="finance_mandate_one_usable",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class Collection(models.Model):
    """One direct-debit run: the pain.008 file handed to the bank and its debits."""

    due_on = models.DateField(_("due date"))
    division = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("division"),
    )
    message_id = models.CharField(_("message id"), max_length=35, unique=True)
    count = models.PositiveIntegerField(_("debits"), default=0)
    total = models.DecimalField(_("total (€)"), max_digits=12, decimal_places=2, default=0)
    # The pain.008 file, gzip-compressed (XML shrinks to a twentieth): `Collection.xml`.
    file_gz = models.BinaryField(_("pain.008 file (gzip)"), editable=False)
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
        verbose_name = _("direct-debit collection")
        verbose_name_plural = _("direct-debit collections")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.due_on:%Y-%m-%d} ({self.count})"

    @property
    def xml(self) -> bytes:
        import gzip

        return gzip.decompress(bytes(self.file_gz)) if self.file_gz else b""


class Debit(models.Model):
    """One member's dues of one year (or of one month, when paid monthly) collected in a
    collection. Each is collected once: only a debit the bank returned lets another one be
    made (a retry)."""

    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="debits", verbose_name=_("collection")
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="debits", verbose_name=_("member")
    )
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, related_name="debits", verbose_name=_("mandate")
    )
    year = models.PositiveSmallIntegerField(_("dues of year"))
    # 0: the year's dues; 1 to 12: that month's instalment (a monthly mandate).
    month = models.PositiveSmallIntegerField(_("instalment of month"), default=0)
    amount = models.DecimalField(_("amount (€)"), max_digits=9, decimal_places=2)
    sequence = models.CharField(_("sequence"), max_length=4)  # FRST or RCUR
    end_to_end_id = models.CharField(_("end-to-end id"), max_length=35, unique=True)
    returned_on = models.DateField(_("returned on"), null=True, blank=True)
    return_reason = models.CharField(_("return reason"), max_length=4, blank=True)
    # The day the member was told (pre-notification), by e-mail or on the letter list.
    notified_on = models.DateField(_("pre-notified on"), null=True, blank=True)

    class Meta:
        verbose_name = _("direct debit")
        verbose_name_plural = _("direct debits")
        indexes = [models.Index(fields=["member", "year"], name="finance_debit_member_year")]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year", "month"],
                condition=Q(returned_on__isnull=True),
                name="finance_debit_once",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_debit_positive"),
        ]

    def __str__(self) -> str:
        return self.end_to_end_id


class SharePolicy(models.Model):
    """The part of its share of the dues a state association passes down to its districts
    (finance order; without a row: none)."""

    state = models.OneToOneField(
        "members.Division",
        on_delete=models.PROTECT,
        related_name="share_policy",
        verbose_name=_("state association"),
    )
    district_percent = models.DecimalField(
        _("passed down to the districts (per cent of the state's share)"),
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )

    class Meta:
        verbose_name = _("share passed down")
        verbose_name_plural = _("shares passed down")

    def __str__(self) -> str:
        return f"{self.state}: {self.district_percent} %"


class Payout(models.Model):
    """A quarter's shares paid out to a state association and its districts; once recorded,
    the shares it paid are locked (finance.shares)."""

    quarter = models.DateField(_("quarter"))  # its first day
    state = models.ForeignKey(
        "members.Division", on_delete=models.PROTECT, related_name="+", verbose_name=_("state")
    )
    state_amount = models.DecimalField(_("to the state (€)"), max_digits=12, decimal_places=2)
    district_amount = models.DecimalField(
        _("to its districts (€)"), max_digits=12, decimal_places=2
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    # The dues booked before payouts were recorded here, settled by hand then (migration
    # 0018): tied to this so that no later payout pays them again.
    carried_over = models.BooleanField(_("settled before payouts were recorded"), default=False)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-quarter", "state"]
        constraints = [
            models.UniqueConstraint(fields=["quarter", "state"], name="finance_payout_once"),
        ]

    def __str__(self) -> str:
        if self.carried_over:
            return f"{self.state}: {_('settled before payouts were recorded')}"
        return f"{self.state} {self.quarter:%Y}-Q{(self.quarter.month + 2) // 3}"


class Share(models.Model):
    """A dues payment split between the federal party, the member's state association and
    district: the three parts add up to the payment, to the cent (a database check)."""

    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="share", verbose_name=_("payment")
    )
    booked_on = models.DateField(_("booked on"))
    state = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("state"),
    )
    district = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("district"),
    )
    amount = models.DecimalField(_("amount (€)"), max_digits=9, decimal_places=2)
    federal_amount = models.DecimalField(_("federal (€)"), max_digits=9, decimal_places=2)
    state_amount = models.DecimalField(_("state (€)"), max_digits=9, decimal_places=2)
    district_amount = models.DecimalField(_("district (€)"), max_digits=9, decimal_places=2)
    payout = models.ForeignKey(
        Payout,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shares",
        verbose_name=_("paid out with"),
    )

    class Meta:
        verbose_name = _("share of dues")
        verbose_name_plural = _("shares of dues")
        indexes = [
            # What a state is owed: its shares not yet paid out, by day.
            models.Index(
                fields=["state", "booked_on"],
                name="finance_share_open",
                condition=Q(payout__isnull=True),
            ),
            models.Index(fields=["booked_on"], name="finance_share_booked"),
        ]
        constraints = [
            # Rounded to the cent: SQLite adds decimals as binary floats.
            models.CheckConstraint(
                condition=Q(
                    amount=Round(
                        models.F("federal_amount")
                        + models.F("state_amount")
                        + models.F("district_amount"),
                        2,
                    )
                ),
                name="finance_share_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.payment_id}: {self.federal_amount}/{self.state_amount}/{self.district_amount}"
        )


class ReceiptWording(models.Model):
    """What the federal office puts on the annual contribution receipts (finance.receipts):
    the party's name and address, the title and the declarations the law requires, the
    note on liability, place and signatory. A version a receipt was issued with is never
    changed (the receipt is rendered again from it); a new version is added instead."""

    party_name = models.CharField(_("party"), max_length=200)
    party_address = models.TextField(
        _("party's address"), help_text=_("One line each: street, postal code and city.")
    )
    title = models.CharField(_("title"), max_length=300)
    declarations = models.TextField(
        _("declarations"),
        help_text=_("The confirmations under the sums; a blank line between two."),
    )
    notice = models.TextField(_("note at the foot"), blank=True)
    place = models.CharField(_("place"), max_length=100)
    signatory = models.CharField(
        _("signatory"), max_length=200, help_text=_("Name and function, e.g. of the treasurer.")
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
        verbose_name = _("wording of the contribution receipts")
        verbose_name_plural = _("wordings of the contribution receipts")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return (
            f"{self.party_name} ({self.created_at:%d.%m.%Y})"
            if self.created_at
            else self.party_name
        )


class ReceiptRun(models.Model):
    """One run of the annual contribution receipts for a year (finance.receipts): started by
    the federal office, worked through by a task in batches, with its counts as it goes."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    year = models.PositiveSmallIntegerField(_("year"))
    division = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("division"),
    )
    # A dry run counts what a run would do and writes nothing else.
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # The worker that holds the run, and when it last finished a batch: another may take
    # over a run whose worker went silent (finance.receipts.LEASE).
    token = models.CharField(max_length=32, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    total = models.PositiveIntegerField(_("members to look at"), default=0)
    done = models.PositiveIntegerField(_("members looked at"), default=0)
    issued = models.PositiveIntegerField(_("receipts issued"), default=0)
    corrected = models.PositiveIntegerField(_("corrections"), default=0)
    withdrawn = models.PositiveIntegerField(_("withdrawn"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    nothing = models.PositiveIntegerField(_("without a positive total"), default=0)
    emailed = models.PositiveIntegerField(_("by e-mail"), default=0)
    letters = models.PositiveIntegerField(_("by letter"), default=0)
    dues = models.DecimalField(_("dues confirmed (€)"), max_digits=14, decimal_places=2, default=0)
    donations = models.DecimalField(
        _("donations confirmed (€)"), max_digits=14, decimal_places=2, default=0
    )
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("contribution receipt run")
        verbose_name_plural = _("contribution receipt runs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Receipts of a year are numbered and compared by one run at a time.
            models.UniqueConstraint(
                fields=["year"],
                condition=Q(status__in=["queued", "running"], dry_run=False),
                name="finance_receiptrun_one_active_per_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} ({self.get_status_display()})"


class ContributionReceiptQuerySet(models.QuerySet["ContributionReceipt"]):
    def visible_to(self, user: Any) -> ContributionReceiptQuerySet:
        from members import access

        return access.scope_by_division(
            self, user, access.Action.VIEW_FINANCE, field="member__division"
        )

    def current(self) -> ContributionReceiptQuerySet:
        return self.filter(superseded_at__isnull=True)


class ContributionReceipt(models.Model):
    """A member's annual receipt for dues and donations (Zuwendungsbestätigung), as issued:
    number, sums, each contribution and the address are kept as they were, so that the PDF is
    rendered again the same from the row. A correction replaces it (`replaces`); a receipt
    whose year no longer adds up to anything is withdrawn (superseded, not replaced)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        LETTER = "letter", _("letter")

    number = models.CharField(_("number"), max_length=20, unique=True)
    year = models.PositiveSmallIntegerField(_("year"))
    serial = models.PositiveIntegerField(_("serial number"))
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="contribution_receipts",
        verbose_name=_("member"),
    )
    run = models.ForeignKey(
        ReceiptRun,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="receipts",
        verbose_name=_("run"),
    )
    wording = models.ForeignKey(
        ReceiptWording, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("wording")
    )
    issued_on = models.DateField(_("issued on"))
    dues = models.DecimalField(_("dues (€)"), max_digits=10, decimal_places=2)
    donations = models.DecimalField(_("donations (€)"), max_digits=10, decimal_places=2)
    # [[booked on (ISO), "dues" or "donation", amount as "120.00"], ...] in date order.
    lines = models.JSONField(_("contributions"), default=list)
    address = models.JSONField(_("address"), default=list)  # the lines in the window
    channel = models.CharField(_("sent by"), max_length=10, choices=Channel.choices)
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ContributionReceiptQuerySet.as_manager()

    class Meta:
        verbose_name = _("contribution receipt")
        verbose_name_plural = _("contribution receipts")
        ordering = ["-year", "-serial"]
        indexes = [
            models.Index(fields=["run", "channel"], name="finance_receipt_run_channel"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year"],
                condition=Q(superseded_at__isnull=True),
                name="finance_receipt_one_current",
            ),
            models.UniqueConstraint(fields=["year", "serial"], name="finance_receipt_serial_once"),
            models.CheckConstraint(
                condition=Q(dues__gt=-models.F("donations")), name="finance_receipt_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def total(self) -> Decimal:
        return self.dues + self.donations
