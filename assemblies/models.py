"""Assemblies of a division and who may vote at them (DESIGN.md, rules: voting rights)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from members import access
from members.models import Division, Member


class AssemblyKind(models.TextChoices):
    MEMBERS = "members", _("member assembly")
    DELEGATES = "delegates", _("delegates' assembly")
    NOMINATION = "nomination", _("candidate nomination for a public election")
    CONVENTION = "convention", _("party convention")


class AssemblyQuerySet(models.QuerySet["Assembly"]):
    def visible_to(self, user: Any, action: access.Action) -> AssemblyQuerySet:
        return access.scope_by_division(self, user, action)


class Assembly(models.Model):
    """A meeting of a division whose voters are those eligible at its cut-off date."""

    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="+", verbose_name=_("division")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=AssemblyKind.choices)
    title = models.CharField(_("name of the assembly"), max_length=200)
    starts_at = models.DateTimeField(_("begins at"))
    place = models.CharField(_("place"), max_length=300, blank=True)
    online = models.BooleanField(_("online"), default=False)
    cutoff_on = models.DateField(
        _("cut-off date"), help_text=_("Who may vote is judged as of this day.")
    )
    agenda = models.TextField(_("agenda"), blank=True)
    invited_at = models.DateTimeField(_("invitation sent at"), null=True, blank=True)
    invitation = models.ForeignKey(
        "mailings.Mailing",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invitation"),
    )
    frozen_at = models.DateTimeField(_("list frozen at"), null=True, blank=True)
    # The frozen list's eligible, counted when it was frozen (the door's quorum count).
    eligible_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    postal_deadline = models.DateTimeField(
        _("postal vote deadline"),
        null=True,
        blank=True,
        help_text=_("Envelopes arriving later are recorded as late and not counted."),
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

    objects = AssemblyQuerySet.as_manager()

    class Meta:
        verbose_name = _("assembly")
        verbose_name_plural = _("assemblies")
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["division", "starts_at"], name="assemblies_div_start")]

    def __str__(self) -> str:
        return self.title

    @property
    def notice_days(self) -> int:
        """How long before the assembly the invitation must go out (the statutes, per kind)."""
        return int(settings.MUSTERROLLE_ASSEMBLY_NOTICE_DAYS[self.kind])

    @property
    def invitation_deadline(self) -> date:
        from django.utils import timezone

        return timezone.localtime(self.starts_at).date() - timedelta(days=self.notice_days)

    @property
    def arrears_count(self) -> bool:
        """Whether dues owed take away the vote (not at nominations for public elections)."""
        return self.kind != AssemblyKind.NOMINATION


class Reason(models.TextChoices):
    ELIGIBLE = "", _("eligible")
    NOT_YET = "not_yet", _("not a member then")
    PENDING = "pending", _("pending (first dues not yet paid)")
    ARREARS = "arrears", _("dues owed")
    TRANSFERRED = "transferred", _("transferred away")
    ENDED = "ended", _("membership ended")


class Entry(models.Model):
    """One member on an assembly's frozen list: eligible or not, and why (what the
    invitation went out with; later changes are shown against it)."""

    assembly = models.ForeignKey(Assembly, on_delete=models.CASCADE, related_name="entries")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices, blank=True)
    owed = models.DecimalField(_("owed (€)"), max_digits=9, decimal_places=2, null=True)
    since = models.DateField(_("since"), null=True)

    class Meta:
        verbose_name = _("list entry")
        verbose_name_plural = _("list entries")
        constraints = [
            models.UniqueConstraint(fields=["assembly", "member"], name="assemblies_entry_once")
        ]
        indexes = [
            models.Index(fields=["assembly", "reason", "division"], name="assemblies_entry_list")
        ]

    def __str__(self) -> str:
        return f"{self.assembly_id} {self.member_id} {self.reason or 'eligible'}"


class Ballot(models.Model):
    """A postal ballot sent to an eligible member: its number is on the voting certificate
    in the return envelope. Only the envelope's return is recorded, never a vote."""

    assembly = models.ForeignKey(Assembly, on_delete=models.CASCADE, related_name="ballots")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("ballot number"), max_length=8)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)  # recorded
    # The day the envelope arrived (envelopes are often opened after the deadline): what
    # the deadline is held against.
    arrived_on = models.DateField(_("arrived on"), null=True, blank=True)

    class Meta:
        verbose_name = _("postal ballot")
        verbose_name_plural = _("postal ballots")
        constraints = [
            models.UniqueConstraint(fields=["assembly", "member"], name="assemblies_ballot_once"),
            models.UniqueConstraint(fields=["assembly", "number"], name="assemblies_ballot_number"),
        ]

    def __str__(self) -> str:
        return self.number


class Attendance(models.Model):
    """A member checked in at the door (once: a second check-in changes nothing)."""

    assembly = models.ForeignKey(Assembly, on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    eligible = models.BooleanField(_("eligible"))
    checked_in_at = models.DateTimeField(_("checked in at"), auto_now_add=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints = [
            models.UniqueConstraint(fields=["assembly", "member"], name="assemblies_present_once")
        ]

    def __str__(self) -> str:
        return f"{self.assembly_id} {self.member_id}"
