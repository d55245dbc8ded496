"""Holds, notices and the erasure log in the admin; the Art. 15 report as an action on
members; erasure on request as an action on candidates."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_register import MEMBER_ACTIONS, ReadOnlyRecordAdmin
from members.models import Member
from onboarding.admin import CANDIDATE_ACTIONS
from onboarding.models import Candidate
from privacy import subject_access
from privacy.models import ErasureLog, LegalHold, RetentionNotice


class FederalOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user)


@admin.register(LegalHold)
class LegalHoldAdmin(FederalOnly, admin.ModelAdmin):
    list_display = ["member", "kind", "reason", "placed_on", "lifted_on", "placed_by"]
    list_filter = ["kind"]
    search_fields = ["member__membership_number", "reason"]
    autocomplete_fields = ["member"]
    readonly_fields = ["placed_by"]
    fields = ["member", "kind", "reason", "placed_on", "lifted_on", "placed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # lifted, never deleted

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"placed_on": timezone.localdate()}

    def save_model(self, request: HttpRequest, obj: LegalHold, form: Any, change: bool) -> None:
        from members import services

        if not change:
            obj.placed_by = request.user
        super().save_model(request, obj, form, change)
        services.record_audit(
            actor=request.user,
            action="privacy.hold_lifted" if obj.lifted_on else "privacy.hold_placed",
            obj=obj,
            division=obj.member.division,
            summary=f"{obj.get_kind_display()} for {obj.member.membership_number}",
        )


@admin.register(RetentionNotice)
class RetentionNoticeAdmin(FederalOnly, ReadOnlyRecordAdmin):
    list_display = ["member", "sent_on", "due_on", "channel"]
    list_filter = ["channel"]
    search_fields = ["member__membership_number"]
    list_select_related = ["member"]


@admin.register(ErasureLog)
class ErasureLogAdmin(FederalOnly, ReadOnlyRecordAdmin):
    list_display = ["done_on", "kind", "number", "count"]
    list_filter = ["kind"]
    search_fields = ["number"]
    date_hierarchy = "done_on"


@admin.action(description=_("Data subject access report (Art. 15): HTML, PDF and JSON"))
def subject_access_report(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Member]
) -> HttpResponse | None:
    if not access.has_global_access(request.user):
        modeladmin.message_user(request, _("Only the federal office answers access requests."))
        return None
    if queryset.count() != 1:
        modeladmin.message_user(
            request, _("Choose exactly one member for the report."), messages.WARNING
        )
        return None
    member = queryset.get()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in subject_access.files(member, by=request.user).items():
            archive.writestr(name, content)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        True, f"auskunft-{member.membership_number}.zip"
    )
    return response


MEMBER_ACTIONS.append(subject_access_report)


@admin.action(description=_("Erase on request (preview first)"))
def erase_on_request(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Candidate]
) -> HttpResponse | None:
    addresses = sorted({c.email.lower() for c in queryset})
    if len(addresses) != 1 or not access.has_global_access(request.user):
        modeladmin.message_user(
            request, _("Choose the records of one person (one address)."), messages.WARNING
        )
        return None
    return HttpResponseRedirect(
        reverse("privacy:erasure") + "?" + urlencode({"email": addresses[0]})
    )


CANDIDATE_ACTIONS.append(erase_on_request)
