"""Change requests: what a state association used to send the federal office as a ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models.divisions import Division
from members.models.register import Member

if TYPE_CHECKING:
    from members.access import Action
    from members.models.accounts import User


class RequestKind(models.TextChoices):
    ENTRY = "entry", _("entry (new member)")
    EXIT = "exit", _("exit")
    CONTACT = "contact", _("contact or address change")
    TRANSFER = "transfer", _("transfer to another division")
    FEE_CLASS = "fee_class", _("fee class change")
    # Recorded by the app that keeps mandates (members.policy.mandate_policy).
    MANDATE = "mandate", _("SEPA direct-debit mandate")


class RequestStatus(models.TextChoices):
    OPEN = "open", _("open")
    # Approval applies the change in the same transaction: there is no "approved, not yet
    # applied" state to wait in.
    APPLIED = "applied", _("applied")
    REJECTED = "rejected", _("rejected")


class ChangeRequestQuerySet(models.QuerySet["ChangeRequest"]):
    def visible_to(self, user: User, action: Action | None = None) -> ChangeRequestQuerySet:
        from members import access

        return access.scope_by_division(self, user, action or access.Action.VIEW_MEMBERS)

    def open(self) -> ChangeRequestQuerySet:
        return self.filter(status=RequestStatus.OPEN)

    def in_subtree(self, division: Division) -> ChangeRequestQuerySet:
        return self.filter(division__path__startswith=division.path)


class ChangeRequest(models.Model):
    kind = models.CharField(_("kind"), max_length=10, choices=RequestKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    # The division the request is about: the member's, or for an entry the new member's.
    division = models.ForeignKey(
        Division,
        on_delete=models.PROTECT,
        related_name="change_requests",
        verbose_name=_("division"),
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_requests",
        verbose_name=_("member"),
    )
    target_division = models.ForeignKey(
        Division,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incoming_transfers",
        verbose_name=_("new division"),
    )
    proposed = models.JSONField(_("proposed values"))
    base = models.JSONField(_("values it is based on"), default=dict, blank=True)
    base_version = models.PositiveIntegerField(_("based on version"), null=True, blank=True)
    effective_on = models.DateField(_("effective on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    # The member changed since the request was made; it cannot be applied.
    is_stale = models.BooleanField(_("stale"), default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="change_requests",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    consented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("consent of the receiving state by"),
    )
    consented_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    batch = models.ForeignKey(
        "members.ImportBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_requests",
        verbose_name=_("import"),
    )

    objects = ChangeRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "division"], name="members_cr_status_division"),
            models.Index(fields=["member", "status"], name="members_cr_member_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="entry") | Q(member__isnull=False),
                name="members_changerequest_member_unless_entry",
            ),
            models.CheckConstraint(
                condition=~Q(kind="transfer") | Q(target_division__isnull=False),
                name="members_changerequest_transfer_has_target",
            ),
        ]

    def __str__(self) -> str:
        subject = self.member or self.proposed.get("last_name", "")
        return f"{self.get_kind_display()}: {subject}"
