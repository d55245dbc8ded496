from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models.divisions import Division


class AuditEntry(models.Model):
    """Who did what, when, to which record. Written by services, never edited."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=60)
    division = models.ForeignKey(
        Division,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("division"),
    )
    object_type = models.CharField(_("object type"), max_length=60)
    object_id = models.CharField(_("object id"), max_length=40)
    summary = models.CharField(_("summary"), max_length=300)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="members_audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}: {self.summary}"


class AccessKind(models.TextChoices):
    PAGE = "page", _("member page")
    LIST = "list", _("member list")
    EXPORT = "export", _("export")
    ADMIN = "admin", _("admin")
    REPORT = "report", _("data subject access report")


class AccessLog(models.Model):
    """Who looked at which member's data, when and how. One row per request at most: a
    page names its member, a list its query and count, an export the members in it (their
    ids, compressed: see members.access_log). Deleted after the retention period."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=6, choices=AccessKind.choices)
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("member"),
    )
    path = models.CharField(_("page"), max_length=300)
    detail = models.CharField(_("query or purpose"), max_length=300, blank=True)
    count = models.PositiveIntegerField(_("members shown"), null=True, blank=True)
    member_ids = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("access")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["member", "at"], name="members_access_member_idx"),
            models.Index(fields=["user", "at"], name="members_access_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user}: {self.get_kind_display()}"
