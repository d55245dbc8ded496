from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from outbox import services
from outbox.models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "subject", "recipients", "status", "sent_at"]
    list_filter = ["status", "template"]
    search_fields = ["subject"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "status",
        "sent_at",
        "from_email",
        "to",
        "subject",
        "text",
        "template",
        "message_id",
        "error",
        "sensitive",
    ]
    readonly_fields = fields

    actions = ["resend_selected"]

    @admin.action(description=_("Resend the selected failed e-mails"))
    def resend_selected(self, request: HttpRequest, queryset: Any) -> None:
        count = services.resend(email_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%d e-mails queued again.") % count)

    def has_module_permission(self, request: HttpRequest) -> bool:
        # The outbox holds names and decisions from every division: the federal office only.
        return request.user.has_perm("members.access_all_divisions")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and super().has_view_permission(request, obj)

    @admin.display(description=_("text"))
    def text(self, obj: OutboundEmail) -> str:
        if obj.sensitive:
            return _("Hidden: this e-mail contains a personal sign-in link.")
        return obj.body_text

    @admin.display(description=_("to"))
    def recipients(self, obj: OutboundEmail) -> str:
        return ", ".join(obj.to)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
