"""Spreadsheet imports and member-list exports, both on the record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models.divisions import Division

if TYPE_CHECKING:
    from members.access import Action
    from members.models.accounts import User


class ImportBatchQuerySet(models.QuerySet["ImportBatch"]):
    def visible_to(self, user: User, action: Action | None = None) -> ImportBatchQuerySet:
        from members import access

        return access.scope_by_division(self, user, action or access.Action.REQUEST_CHANGE)


class ImportBatch(models.Model):
    """One uploaded sheet: its mapping, its validation report and what became of it."""

    class Status(models.TextChoices):
        VALIDATING = "validating", _("being checked")
        CHECKED = "checked", _("checked")
        APPLYING = "applying", _("being applied")
        SUBMITTED = "submitted", _("submitted to the federal office")
        APPLIED = "applied", _("applied")
        DISCARDED = "discarded", _("discarded")
        FAILED = "failed", _("could not be read")

    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="+", verbose_name=_("division")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    content = models.BinaryField(editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.VALIDATING
    )
    error = models.TextField(_("error"), blank=True)
    header = models.JSONField(default=list, blank=True)
    header_row = models.PositiveIntegerField(default=0)
    # column index (as text) -> member field, or "" for a column that is ignored
    mapping = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=list, blank=True)
    # The rows as read from the file (header, rows, their row numbers), kept at the check so
    # that nothing reads the upload again (the error list is built from these).
    cells = models.JSONField(default=dict, blank=True, editable=False)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    new = models.PositiveIntegerField(_("new"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    errors = models.PositiveIntegerField(_("rows with errors"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The value step's answers: {"values": {field: {value: choice}}, "dates": {field:
    # {"order": "dmy"|"mdy", "partial": "first"}}, "propose_unknown": bool}.
    choices = models.JSONField(default=dict, blank=True)
    # What the check found besides the rows: distinct values and their matches, date
    # questions, columns not imported (members.imports.validate).
    findings = models.JSONField(default=dict, blank=True, editable=False)

    objects = ImportBatchQuerySet.as_manager()

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.uploaded_at:%Y-%m-%d})"

    @property
    def is_busy(self) -> bool:
        return self.status in {self.Status.VALIDATING, self.Status.APPLYING}


class ExportLog(models.Model):
    """Every export of member data: who, when, why, which filter, how many rows."""

    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("exported by"),
    )
    exported_at = models.DateTimeField(_("exported at"), auto_now_add=True)
    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="+", verbose_name=_("division")
    )
    purpose = models.CharField(_("purpose"), max_length=300)
    filters = models.JSONField(_("filter"), default=dict, blank=True)
    file_format = models.CharField(_("format"), max_length=4)
    rows = models.PositiveIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-exported_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.exported_by} {self.exported_at:%Y-%m-%d %H:%M}: {self.purpose}"


class ImportValueChoice(models.Model):
    """A value of a sheet and what it means, decided once by a person importing for a
    division and offered again at the division's next upload ("KV Dresden" is SN-DD)."""

    division = models.ForeignKey(
        Division, on_delete=models.CASCADE, related_name="+", verbose_name=_("division")
    )
    field = models.CharField(_("column"), max_length=20)
    key = models.CharField(_("value"), max_length=200)  # as members.imports._key gives it
    choice = models.CharField(_("means"), max_length=40)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now=True)

    class Meta:
        verbose_name = _("value correction of imports")
        verbose_name_plural = _("value corrections of imports")
        ordering = ["division", "field", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["division", "field", "key"], name="members_importvaluechoice_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.key} → {self.choice}"
