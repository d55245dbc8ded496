from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from mailings.models import Mailing, MailingSettings, Suppression


class FederalOnly:
    """Mailings and suppressions of every division: the federal office only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.access_all_divisions")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


@admin.register(Mailing)
class MailingAdmin(FederalOnly, admin.ModelAdmin):
    list_display = [
        "shown_subject",
        "division",
        "kind",
        "status",
        "total",
        "created_by",
        "released_by",
        "started_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["subject", "division__name"]
    date_hierarchy = "created_at"
    list_select_related = ["division", "created_by", "released_by"]
    fields = [
        "division",
        "kind",
        "status",
        "subject",
        "sender_name",
        "reply_to",
        "body",
        "attachment_name",
        "audience",
        "created_by",
        "created_at",
        "requested_by",
        "released_by",
        "released_at",
        "started_at",
        "finished_at",
        "total",
        "counts",
    ]
    readonly_fields = fields

    @admin.display(description=_("subject"), ordering="subject")
    def shown_subject(self, obj: Mailing) -> str:
        return obj.display_subject

    @admin.display(description=_("deliveries by status"))
    def counts(self, obj: Mailing) -> str:
        from mailings import services

        return ", ".join(f"{k}: {v}" for k, v in services.progress(obj).items() if v)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(FederalOnly, admin.ModelAdmin):
    list_display = ["email", "reason", "created_at", "detail"]
    list_filter = ["reason"]
    search_fields = ["email"]
    readonly_fields = ["email", "reason", "detail", "delivery", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Lifting a block is the federal office's decision, e.g. after the member confirmed
        # that the mailbox works again.
        return self.has_module_permission(request)


@admin.register(MailingSettings)
class MailingSettingsAdmin(FederalOnly, admin.ModelAdmin):
    list_display = ["division", "release_required"]
    list_filter = ["release_required"]
    autocomplete_fields = ["division"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)
