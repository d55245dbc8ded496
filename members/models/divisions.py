from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

if TYPE_CHECKING:
    from members.access import Action
    from members.models.accounts import User


class DivisionLevel(models.TextChoices):
    FEDERAL = "federal", _("federal party")
    STATE = "state", _("state association")
    DISTRICT = "district", _("district association")
    LOCAL = "local", _("local chapter")


class DivisionQuerySet(MP_NodeQuerySet):
    def visible_to(self, user: User, action: Action | None = None) -> DivisionQuerySet:
        from members import access

        return access.scope_divisions(self, user, action or access.Action.VIEW_DIVISION)

    def subtree_of(self, division: Division) -> DivisionQuerySet:
        return self.filter(path__startswith=division.path)


class DivisionManager(MP_NodeManager):
    def get_queryset(self) -> DivisionQuerySet:
        return DivisionQuerySet(self.model, using=self._db).order_by("path")

    def visible_to(self, user: User, action: Action | None = None) -> DivisionQuerySet:
        return self.get_queryset().visible_to(user, action)

    def subtree_of(self, division: Division) -> DivisionQuerySet:
        return self.get_queryset().subtree_of(division)


class Division(MP_Node):
    """A node of the party's tree: federal party, state, district, local chapter.

    Stored as a materialised path (django-treebeard): a subtree is one indexed
    `path LIKE 'prefix%'` range scan.
    """

    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Short code, e.g. SN for Sachsen or SN-L for Leipzig."),
    )
    level = models.CharField(_("level"), max_length=10, choices=DivisionLevel.choices)

    objects = DivisionManager()

    class Meta:
        verbose_name = _("division")
        verbose_name_plural = _("divisions")
        ordering = ["path"]
        permissions = [
            ("access_all_divisions", _("Can see and act on every division (federal office)")),
        ]
        indexes = [
            # LIKE 'prefix%' on PostgreSQL uses a btree only with the pattern operator class.
            models.Index(
                fields=["path"],
                name="members_division_path_like",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def is_in_subtree_of(self, other: Division) -> bool:
        return self.path.startswith(other.path)

    def ancestor_paths(self) -> list[str]:
        """Paths of this division and every division above it, top first."""
        return [self.path[:end] for end in range(self.steplen, len(self.path) + 1, self.steplen)]


class Role(models.TextChoices):
    BOARD = "board", _("board")
    TREASURER = "treasurer", _("treasurer")
    MEMBERSHIP_OFFICER = "membership_officer", _("membership officer")
    MAILING_SENDER = "mailing_sender", _("mailing sender")
    ONBOARDING_COORDINATOR = "onboarding_coordinator", _("onboarding coordinator")
    VIEWER = "viewer", _("viewer")


class RoleAssignmentQuerySet(models.QuerySet["RoleAssignment"]):
    def active(self, on: date) -> RoleAssignmentQuerySet:
        return self.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=on),
            revoked_at__isnull=True,
            valid_from__lte=on,
        )

    def in_subtree(self, division: Division) -> RoleAssignmentQuerySet:
        return self.filter(division__path__startswith=division.path)

    def visible_to(self, user: User, action: Action | None = None) -> RoleAssignmentQuerySet:
        from members import access

        return access.scope_by_division(self, user, action or access.Action.MANAGE_ROLES)


class RoleAssignment(models.Model):
    """A user holds a role on a division and, through it, on the whole subtree below."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="role_assignments",
        verbose_name=_("user"),
    )
    division = models.ForeignKey(
        Division,
        on_delete=models.PROTECT,
        related_name="role_assignments",
        verbose_name=_("division"),
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("revoked by"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        ordering = ["division__path", "role", "user__email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="members_roleassignment_valid_range",
                violation_error_message=_("The end date lies before the start date."),
            ),
        ]
        # Terms of the same role may follow each other; services.check_grant refuses overlaps.
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="members_role_user_idx"),
            models.Index(fields=["user", "division", "role"], name="members_role_user_div_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} – {self.division}"

    def is_active_on(self, day: date) -> bool:
        return (
            self.revoked_at is None
            and self.valid_from <= day
            and (self.valid_until is None or self.valid_until >= day)
        )
