"""The member register: members, their change history and their membership periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.utils.translation import gettext_lazy as _

from members.models.divisions import Division

if TYPE_CHECKING:
    from members.access import Action
    from members.models.accounts import User


def _choice_label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value no longer among the choices shows as stored
        return value


class MemberStatus(models.TextChoices):
    PENDING = "pending", _("pending (first dues not yet paid)")
    ACTIVE = "active", _("active")
    ENDED = "ended", _("ended")


class EndReason(models.TextChoices):
    EXIT = "exit", _("exit")
    DEATH = "death", _("death")
    STRUCK_OFF = "struck_off", _("struck off the register")
    INELIGIBLE = "ineligible", _("loss of eligibility")
    EXPULSION = "expulsion", _("expulsion")


class PaymentStatus(models.TextChoices):
    PAID_UP = "paid_up", _("paid up")
    # Dues are due and not yet paid, but the grace period is still running.
    DUE = "due", _("due (grace period)")
    IN_ARREARS = "in_arrears", _("in arrears")
    EXEMPT = "exempt", _("exempt")


class FeeClass(models.TextChoices):
    REGULAR = "regular", _("regular")
    REDUCED = "reduced", _("reduced")
    MINOR = "minor", _("minor")
    EXEMPT = "exempt", _("exempt")


CENT = Decimal("0.01")


def json_value(value: Any) -> Any:
    """A register value the way JSON keeps it, wherever a member's values are stored or
    compared (versions, change requests, import reports): dates as ISO strings, money as a
    string with cents (a tier typed as 120 is the register's 120.00), a division by code."""
    if isinstance(value, date):  # a datetime is a date, too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, Division):
        return value.code
    return value


def payment_reference(membership_number: int, year: int) -> str:
    """The transfer reference the finance order prescribes: `MB<year> <membership number>`."""
    return f"MB{year} {membership_number}"


# The fields of a member that the register versions; a MemberVersion keeps all of them.
REGISTER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "date_of_birth",
    "division_id",
    "status",
    "end_reason",
    "joined_on",
    "left_on",
    "fee_class",
    "dues_tier",
    "reduced_until",
    "newsletter_consent",
)


class MemberQuerySet(models.QuerySet["Member"]):
    def visible_to(self, user: User, action: Action | None = None) -> MemberQuerySet:
        from members import access

        return access.scope_members(self, user, action or access.Action.VIEW_MEMBERS)

    def in_subtree(self, division: Division) -> MemberQuerySet:
        from members import access

        return self.filter(access.member_subtree_q(division.path, division.pk))

    def current(self) -> MemberQuerySet:
        """Members whose membership has not ended (pending or active)."""
        return self.exclude(status=MemberStatus.ENDED)

    def search(self, text: str) -> MemberQuerySet:
        """Name, membership number, e-mail, postal code or city, in any order."""
        qs = self
        for word in text.lower().split()[:5]:
            if word.isascii() and word.isdecimal():
                # A number is a membership number, or the start of a postal code.
                qs = qs.filter(Q(membership_number=int(word)) | Q(postal_code__startswith=word))
            else:
                qs = qs.filter(search_text__contains=word)
        return qs


class Member(models.Model):
    membership_number = models.PositiveIntegerField(
        _("membership number"), unique=True, editable=False
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="DE")
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="members", verbose_name=_("division")
    )
    # The state association above the division, kept with every admission and transfer: a
    # search within a state reads only its own matches (the search index starts with it).
    state = models.ForeignKey(
        Division,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        db_index=False,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.PENDING
    )
    end_reason = models.CharField(
        _("end reason"), max_length=12, choices=EndReason.choices, blank=True
    )
    joined_on = models.DateField(_("joined on"))
    left_on = models.DateField(_("left on"), null=True, blank=True)
    # The day the first dues were settled and a pending membership became active (empty for
    # members brought in active): an assembly's cut-off asks whether it was still pending.
    active_since = models.DateField(_("active since"), null=True, blank=True, editable=False)
    # Set by privacy.retention when the person's data was removed after the retention period:
    # the row stays (number, division, dates, fee class) so that the ledger and the figures
    # of the past stay whole.
    anonymised_on = models.DateField(_("anonymised on"), null=True, blank=True, editable=False)
    fee_class = models.CharField(
        _("fee class"), max_length=10, choices=FeeClass.choices, default=FeeClass.REGULAR
    )
    # The regular dues are tiered by income: the yearly amount the member chose (empty: the
    # fee rule's amount applies).
    dues_tier = models.DecimalField(
        _("yearly dues tier (€)"), max_digits=7, decimal_places=2, null=True, blank=True
    )
    # A reduction is granted for a limited time; after this day the regular class applies.
    reduced_until = models.DateField(_("reduced until"), null=True, blank=True)
    newsletter_consent = models.BooleanField(_("newsletter consent"), default=False)
    # Kept up to date by finance through members.services.set_payment_states, in the same
    # transaction as each charge or payment, so lists filter by it without the ledger.
    balance = models.DecimalField(
        _("balance (€)"), max_digits=9, decimal_places=2, default=0, editable=False
    )
    payment_status = models.CharField(
        _("payment status"),
        max_length=10,
        choices=PaymentStatus.choices,
        default=PaymentStatus.PAID_UP,
        editable=False,
    )
    arrears_since = models.DateField(_("in arrears since"), null=True, blank=True, editable=False)
    # Bumped by every change; a change request remembers the version it was based on.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    # Lower-case "number last first e-mail postal-code city" for the list's search box; kept
    # up to date by Member.save(); a trigram index serves it on PostgreSQL.
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["last_name", "first_name", "membership_number"]
        indexes = [
            # By address whatever its case (email__iexact is UPPER(email) = UPPER(%s)): who
            # else uses an address (families share one), whose account it is, erasure.
            models.Index(Upper("email"), name="members_member_email_upper"),
            models.Index(fields=["division", "status"], name="members_member_div_status"),
            models.Index(fields=["division", "payment_status"], name="members_member_div_payment"),
            # The treasurer's list: "in arrears", in name order, without sorting them all.
            # Lists page through ids in name order from these indexes alone (the filters'
            # columns are included), then load the fifty rows shown: a page's cost does not
            # grow with the table.
            models.Index(
                fields=["payment_status", "last_name", "first_name", "membership_number"],
                name="members_member_payment_name",
                include=["id", "division", "status"],
            ),
            models.Index(
                fields=["last_name", "first_name", "membership_number"],
                name="members_member_name",
                include=["id", "division", "status", "payment_status", "fee_class"],
            ),
            # The same two orders within a state, for the state's boards and everyone below
            # (access.member_subtree_q): their pages read their own state's entries only.
            models.Index(
                fields=["state", "last_name", "first_name", "membership_number"],
                name="members_member_state_name",
                include=["id", "division", "status", "payment_status", "fee_class"],
            ),
            models.Index(
                fields=["state", "payment_status", "last_name", "first_name", "membership_number"],
                name="members_member_state_payment",
                include=["id", "division", "status"],
            ),
            models.Index(
                fields=["postal_code"],
                name="members_member_postal",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(fields=["joined_on", "membership_number"], name="members_member_joined"),
            models.Index(
                fields=["city", "last_name", "membership_number"], name="members_member_city"
            ),
            # From a suppressed address to the members who have it (a mailing's audience).
            models.Index(Lower("email"), name="members_member_email_lower"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="ended", left_on__isnull=False, end_reason__gt="")
                | (~Q(status="ended") & Q(left_on__isnull=True, end_reason="")),
                name="members_member_ended_has_date_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.membership_number})"

    def save(self, *args: object, **kwargs: object) -> None:
        self.search_text = self.compute_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "search_text", "updated_at"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    # Lists show these fifty times a page: Django's generated get_FOO_display translates
    # every choice on each call, the enum only the one shown.
    def get_status_display(self) -> str:
        return _choice_label(MemberStatus, self.status)

    def get_payment_status_display(self) -> str:
        return _choice_label(PaymentStatus, self.payment_status)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def compute_search_text(self) -> str:
        parts = [
            str(self.membership_number),
            self.last_name,
            self.first_name,
            self.email,
            self.postal_code,
            self.city,
        ]
        return " ".join(p for p in parts if p).lower()

    def register_values(self) -> dict[str, object]:
        """The versioned fields as JSON-safe values."""
        return {field: json_value(getattr(self, field)) for field in REGISTER_FIELDS}


class MemberVersion(models.Model):
    """One state of a member's record: who changed what, when and why."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    values = models.JSONField(_("values"))
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    change_request = models.ForeignKey(
        "members.ChangeRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("change request"),
    )

    class Meta:
        verbose_name = _("member version")
        verbose_name_plural = _("member versions")
        ordering = ["member", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "version"], name="members_memberversion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} v{self.version}"


class PeriodStart(models.TextChoices):
    ENTRY = "entry", _("entry")
    TRANSFER_IN = "transfer_in", _("transfer in")


TRANSFER_OUT = "transfer_out"
PERIOD_END_CHOICES = [*EndReason.choices, (TRANSFER_OUT, _("transfer out"))]


class MembershipPeriod(models.Model):
    """A span of membership in one division, in business dates.

    An entry opens a period, a transfer closes one and opens the next, an exit closes the
    last. "How many members did this division have on date X" counts the periods that cover
    X in the division's subtree.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="periods")
    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="+", verbose_name=_("division")
    )
    started_on = models.DateField(_("started on"))
    start_kind = models.CharField(_("how it began"), max_length=12, choices=PeriodStart.choices)
    # The first day no longer covered (exclusive), like an exit's effective date.
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_kind = models.CharField(
        _("how it ended"), max_length=12, choices=PERIOD_END_CHOICES, blank=True
    )

    class Meta:
        verbose_name = _("membership period")
        verbose_name_plural = _("membership periods")
        ordering = ["member", "started_on", "pk"]
        indexes = [
            # Covering (on PostgreSQL): the dashboard's monthly figures read only the index.
            models.Index(
                fields=["division", "started_on"],
                name="members_period_div_start",
                include=["start_kind"],
            ),
            models.Index(
                fields=["division", "ended_on"], name="members_period_div_end", include=["end_kind"]
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(ended_on__isnull=True),
                name="members_membershipperiod_one_open",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="members_membershipperiod_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.division_id} {self.started_on}–{self.ended_on or ''}"


class NumberSequence(models.Model):
    """Hands out membership numbers; numbers are never reused, members are never deleted."""

    name = models.CharField(max_length=30, primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"
