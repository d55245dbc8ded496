"""Circles (networks, working groups), their candidates, vetoes, channels and mediations.

Confidential fields (candidate notes, veto reasons, mediation notes) are read only through
`onboarding.rules`; they never go into e-mails, exports or audit entries.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Circle(models.Model):
    """A network or working group with its own admission procedure."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    # The party division it works in (for the federal office's overview); may be empty.
    division = models.ForeignKey(
        "members.Division",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="circles",
        verbose_name=_("division"),
    )
    # The procedure.
    veto_days = models.PositiveSmallIntegerField(
        _("veto period (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    meetings_required = models.PositiveSmallIntegerField(
        _("get-to-know meetings before the veto period"),
        default=2,
        validators=[MaxValueValidator(20)],
    )
    veto_blocks = models.BooleanField(
        _("a single veto blocks admission"),
        default=True,
        help_text=_(
            "Otherwise a veto goes to a discussion, after which the coordinators may still admit."
        ),
    )
    mediations_before_removal = models.PositiveSmallIntegerField(
        _("failed mediations before a removal may be decided"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("circle")
        verbose_name_plural = _("circles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CircleRole(models.TextChoices):
    COORDINATOR = "coordinator", _("coordinator")
    MEMBER = "member", _("member")


class CircleMembershipQuerySet(models.QuerySet["CircleMembership"]):
    def active(self) -> CircleMembershipQuerySet:
        return self.filter(ended_on__isnull=True)


class CircleMembership(models.Model):
    circle = models.ForeignKey(
        Circle, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("circle")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="circle_memberships",
        verbose_name=_("person"),
    )
    role = models.CharField(
        _("role"), max_length=12, choices=CircleRole.choices, default=CircleRole.MEMBER
    )
    joined_on = models.DateField(_("joined on"))
    ended_on = models.DateField(_("left on"), null=True, blank=True)
    removed = models.BooleanField(_("removed after mediation"), default=False)

    objects = CircleMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("circle membership")
        verbose_name_plural = _("circle memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["circle", "user"],
                condition=Q(ended_on__isnull=True),
                name="onboarding_one_active_membership",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.circle}"


class Channel(models.Model):
    class Kind(models.TextChoices):
        CHAT = "chat", _("chat room")
        LIST = "list", _("mailing list")
        FOLDER = "folder", _("shared folder")
        OTHER = "other", _("other")

    circle = models.ForeignKey(
        Circle, on_delete=models.CASCADE, related_name="channels", verbose_name=_("circle")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    link = models.URLField(_("link"), blank=True)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CandidateState(models.TextChoices):
    NEW = "new", _("new")
    GETTING_TO_KNOW = "getting_to_know", _("getting to know")
    VETO_PERIOD = "veto_period", _("veto period")
    ADMITTED = "admitted", _("admitted")
    VETOED = "vetoed", _("vetoed")
    WITHDRAWN = "withdrawn", _("withdrawn")
    DECLINED = "declined", _("declined")


OPEN_STATES = (
    CandidateState.NEW,
    CandidateState.GETTING_TO_KNOW,
    CandidateState.VETO_PERIOD,
    CandidateState.VETOED,
)


class Candidate(models.Model):
    circle = models.ForeignKey(
        Circle, on_delete=models.PROTECT, related_name="candidates", verbose_name=_("circle")
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("e-mail"))
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    found_via = models.CharField(_("how they found the circle"), max_length=300, blank=True)
    # Coordinators only.
    notes = models.TextField(_("notes (coordinators only)"), blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=CandidateState.choices, default=CandidateState.NEW
    )
    veto_opened_on = models.DateField(_("veto period opened on"), null=True, blank=True)
    veto_ends_on = models.DateField(_("last day for a veto"), null=True, blank=True)
    admitted_on = models.DateField(_("admitted on"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("account"),
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registered by"),
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(fields=["state", "veto_ends_on"], name="onboarding_candidate_due"),
            models.Index(fields=["circle", "state"], name="onboarding_candidate_circle"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def admission_day(self) -> date | None:
        """The day the scheduled task admits the candidate if no veto stands."""
        return self.veto_ends_on + timedelta(days=1) if self.veto_ends_on else None


class Meeting(models.Model):
    """A get-to-know meeting with a candidate."""

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="meetings", verbose_name=_("candidate")
    )
    held_on = models.DateField(_("date"))
    met_by = models.CharField(_("who met them"), max_length=300)
    note = models.CharField(_("short note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("get-to-know meeting")
        verbose_name_plural = _("get-to-know meetings")
        ordering = ["held_on", "pk"]

    def __str__(self) -> str:
        return f"{self.candidate} {self.held_on}"


class Response(models.Model):
    """A circle member's answer in a veto period: no objection, or a veto with a reason."""

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="responses", verbose_name=_("candidate")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("circle member"),
    )
    veto = models.BooleanField(_("veto"))
    # Coordinators only; emptied when the veto is withdrawn.
    reason = models.TextField(_("reason (coordinators only)"), blank=True)
    answered_at = models.DateTimeField(_("answered at"))
    # The veto period the answer belongs to: re-opening starts a new round.
    period_opened_on = models.DateField()

    class Meta:
        verbose_name = _("answer in a veto period")
        verbose_name_plural = _("answers in veto periods")
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "member", "period_opened_on"],
                name="onboarding_one_answer_per_period",
            ),
            models.CheckConstraint(
                condition=Q(veto=False) | ~Q(reason=""), name="onboarding_veto_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.candidate}: {'veto' if self.veto else 'no objection'}"


class ChannelAccess(models.Model):
    """A grant or revocation of a person's access to a channel: pending until done."""

    class Action(models.TextChoices):
        GRANT = "grant", _("grant")
        REVOKE = "revoke", _("revoke")

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="accesses", verbose_name=_("channel")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    action = models.CharField(_("action"), max_length=6, choices=Action.choices)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )

    class Meta:
        verbose_name = _("channel access")
        verbose_name_plural = _("channel access")
        ordering = ["requested_at", "pk"]
        constraints = [
            # One open task per person, channel and kind.
            models.UniqueConstraint(
                fields=["channel", "user", "action"],
                condition=Q(done_at__isnull=True),
                name="onboarding_one_pending_access_task",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.channel} → {self.user}"


class Mediation(models.Model):
    circle = models.ForeignKey(
        Circle, on_delete=models.CASCADE, related_name="mediations", verbose_name=_("circle")
    )
    subject = models.CharField(_("subject"), max_length=200)
    parties = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("people in conflict")
    )
    mediators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("mediators")
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("mediation")
        verbose_name_plural = _("mediations")
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return self.subject


class MediationSession(models.Model):
    class Outcome(models.TextChoices):
        RESOLVED = "resolved", _("resolved")
        NOT_RESOLVED = "not_resolved", _("not resolved")

    mediation = models.ForeignKey(
        Mediation, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("mediation")
    )
    held_on = models.DateField(_("date"))
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    mediated_by = models.CharField(_("mediated by"), max_length=300, blank=True)
    # Mediators and coordinators only.
    notes = models.TextField(_("confidential notes"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["held_on", "pk"]

    def __str__(self) -> str:
        return f"{self.mediation} {self.held_on}"


class Removal(models.Model):
    """The decision to remove a person from the circle after failed mediations."""

    circle = models.ForeignKey(
        Circle, on_delete=models.CASCADE, related_name="removals", verbose_name=_("circle")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    reason = models.TextField(_("reason"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_on = models.DateField(_("decided on"))

    class Meta:
        verbose_name = _("removal")
        verbose_name_plural = _("removals")

    def __str__(self) -> str:
        return f"{self.user} from {self.circle}"
