"""The federal office's register and change-request queue in the Django admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from members import access, imports, services
from members.models import (
    ChangeRequest,
    Division,
    DivisionLevel,
    ExportLog,
    ImportBatch,
    ImportValueChoice,
    Member,
    MembershipPeriod,
    MemberVersion,
    RequestStatus,
)
from members.policy import fee_policy
from members.services.register import DUES_FIELDS, EDITABLE_FIELDS


class RecordAdmin(admin.ModelAdmin):
    """A record kept for the history: nobody adds or deletes it in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyRecordAdmin(RecordAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StateFilter(admin.SimpleListFilter):
    title = _("state association")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        states = Division.objects.filter(level=DivisionLevel.STATE).order_by("name")
        return [(str(state.pk), state.name) for state in states]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        state = Division.objects.filter(pk=self.value()).first()
        if state is None:
            return queryset.none()
        return queryset.filter(division__path__startswith=state.path)


class MemberVersionInline(admin.TabularInline):
    model = MemberVersion
    fields = ["version", "recorded_at", "recorded_by", "reason", "changes"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-version"]
    verbose_name_plural = _("change history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipPeriodInline(admin.TabularInline):
    model = MembershipPeriod
    fields = ["division", "started_on", "start_kind", "ended_on", "end_kind"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MemberAddForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "street",
            "postal_code",
            "city",
            "country",
            "fee_class",
            "dues_tier",
            "reduced_until",
            "newsletter_consent",
            "division",
            "joined_on",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:  # the finance order, here rather than as an error page after saving
            fee_policy().validate(
                {field: data.get(field) for field in DUES_FIELDS},
                on=timezone.localdate(),
                granting=True,
            )
        except ValidationError as error:
            self.add_error(None, error)
        return data


# Apps that build on members add actions on members here (the data subject access report of
# privacy); members imports none of them.
MEMBER_ACTIONS: list[Any] = []


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = [
        "membership_number",
        "last_name",
        "first_name",
        "division",
        "status",
        "fee_class",
        "joined_on",
    ]
    list_filter = ["status", "fee_class", StateFilter]
    list_select_related = ["division"]
    search_fields = ["search_text"]
    search_help_text = _("Name, membership number, e-mail, postal code or city")
    show_full_result_count = False
    ordering = ["membership_number"]
    inlines = [MembershipPeriodInline, MemberVersionInline]
    autocomplete_fields = ["division"]
    actions = MEMBER_ACTIONS
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "membership_number",
                    "status",
                    "division",
                    "joined_on",
                    "left_on",
                    "end_reason",
                )
            },
        ),
        (_("Person"), {"fields": ("first_name", "last_name", "date_of_birth", "email", "phone")}),
        (_("Address"), {"fields": ("street", "postal_code", "city", "country")}),
        (_("Membership"), {"fields": ("fee_class", "newsletter_consent")}),
        (_("Data protection"), {"fields": ("accesses",)}),
    )
    readonly_fields = [
        "membership_number",
        "status",
        "division",
        "joined_on",
        "left_on",
        "end_reason",
        "accesses",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        return Member.objects.visible_to(request.user)

    @admin.display(description=_("Who saw this member"))
    def accesses(self, obj: Member) -> str:
        url = reverse("admin:members_accesslog_changelist")
        return format_html('<a href="{}?q={}">{}</a>', url, obj.membership_number, _("Access log"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return (queryset.search(search_term) if search_term else queryset), False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = MemberAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ((None, {"fields": MemberAddForm.Meta.fields}),)
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # members are anonymised, never deleted

    # Boards change the register through change requests; entering or editing a member
    # directly is the federal office's alone (the service checks it too).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_change_permission(
            request, obj
        )

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        values = {
            field: form.cleaned_data[field]
            for field in EDITABLE_FIELDS
            if field in form.cleaned_data
        }
        if change:
            changed = {field: values[field] for field in form.changed_data if field in values}
            saved = services.update_member(
                by=request.user, member=obj, changes=changed, reason="Admin"
            )
        else:
            saved = services.admit_member(
                by=request.user,
                division=form.cleaned_data["division"],
                values=values,
                joined_on=form.cleaned_data["joined_on"],
                reason="Admin",
            )
        obj.pk = saved.pk
        obj.refresh_from_db()


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the rejection"), widget=forms.Textarea(attrs={"rows": 3})
    )


@admin.register(ChangeRequest)
class ChangeRequestAdmin(RecordAdmin):
    list_display = ["requested_at", "kind", "subject", "division", "status", "consent"]
    list_filter = [
        "status",
        "kind",
        "is_stale",
        StateFilter,
        ("batch", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["member", "division", "requested_by", "consented_by", "target_division"]
    search_fields = ["member__search_text", "requested_by__email"]
    date_hierarchy = "requested_at"
    actions = ["approve_selected", "reject_selected"]
    change_form_template = "admin/members/changerequest/change_form.html"
    readonly_fields = [
        "kind",
        "status",
        "division",
        "member",
        "target_division",
        "effective_on",
        "note",
        "is_stale",
        "requested_by",
        "requested_at",
        "consented_by",
        "consented_at",
        "decided_by",
        "decided_at",
        "rejection_reason",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChangeRequest]:
        return ChangeRequest.objects.visible_to(request.user)

    @admin.display(description=_("member"))
    def subject(self, obj: ChangeRequest) -> str:
        if obj.member:
            return str(obj.member)
        return f"{obj.proposed.get('first_name', '')} {obj.proposed.get('last_name', '')}"

    @admin.display(description=_("consent"), boolean=True)
    def consent(self, obj: ChangeRequest) -> bool | None:
        if obj.target_division_id is None:
            return None
        return obj.consented_at is not None

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="members_changerequest_approve",
            ),
            path(
                "<int:pk>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="members_changerequest_reject",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        change_request = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "comparison": comparison(change_request) if change_request else [],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _decide(self, request: HttpRequest, pk: int) -> ChangeRequest:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        change_request = self._decide(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:members_changerequest_change", args=[pk]))
        try:
            services.approve_change_request(request=change_request, by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, _("The request has been applied."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:members_changerequest_change", args=[pk]))

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        change_request = self._decide(request, pk)
        form = RejectForm(request.POST or None)
        if form.is_valid():
            try:
                services.reject_change_request(
                    request=change_request, by=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(request, _("The request has been rejected."), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:members_changerequest_change", args=[pk]))
        return TemplateResponse(
            request,
            "admin/members/changerequest/reject.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "requests": [change_request],
                "opts": self.model._meta,
                "title": _("Reject change request"),
            },
        )

    @admin.action(description=_("Approve and apply selected requests"))
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[ChangeRequest]) -> None:
        """Each request in its own transaction: one that fails leaves the others applied."""
        applied, failed = 0, []
        for change_request in queryset.filter(status=RequestStatus.OPEN).order_by(
            "requested_at", "pk"
        ):
            try:
                services.approve_change_request(request=change_request, by=request.user)
            except ValidationError as error:
                failed.append(f"#{change_request.pk}: {' '.join(error.messages)}")
            else:
                applied += 1
        self.message_user(
            request,
            ngettext("%d request applied.", "%d requests applied.", applied) % applied,
            messages.SUCCESS if applied else messages.INFO,
        )
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description=_("Reject selected requests"))
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[ChangeRequest]
    ) -> HttpResponse | None:
        open_requests = queryset.filter(status=RequestStatus.OPEN)
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            rejected = 0
            for change_request in open_requests:
                services.reject_change_request(
                    request=change_request, by=request.user, reason=form.cleaned_data["reason"]
                )
                rejected += 1
            self.message_user(
                request,
                ngettext("%d request rejected.", "%d requests rejected.", rejected) % rejected,
                messages.SUCCESS,
            )
            return None
        return render(
            request,
            "admin/members/changerequest/reject.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "requests": open_requests,
                "opts": self.model._meta,
                "action": "reject_selected",
                "title": _("Reject change requests"),
            },
        )


def comparison(change_request: ChangeRequest) -> list[dict[str, Any]]:
    """Rows of field, current value, value when requested, proposed value, for the review."""
    current = change_request.member.register_values() if change_request.member else {}
    fields = list(change_request.proposed) or []
    if change_request.target_division_id:
        fields = ["division_id", *fields]
    names = dict(
        Division.objects.filter(
            pk__in=[change_request.division_id, change_request.target_division_id]
        ).values_list("pk", "name")
    )
    rows = []
    for field in fields:
        proposed = (
            change_request.target_division_id
            if field == "division_id"
            else change_request.proposed.get(field)
        )
        base = change_request.base.get(field, "")
        now = current.get(field, "")
        if field == "division_id":
            proposed, base, now = (names.get(v, v) for v in (proposed, base, now))
        rows.append(
            {
                "field": field,
                "current": now,
                "base": base,
                "proposed": proposed,
                "changed_since": bool(change_request.base)
                and field in change_request.base
                and base != now,
            }
        )
    return rows


@admin.register(ImportBatch)
class ImportBatchAdmin(RecordAdmin):
    list_display = [
        "uploaded_at",
        "filename",
        "division",
        "uploaded_by",
        "status",
        "new",
        "changed",
        "errors",
        "requests",
    ]
    list_filter = ["status", StateFilter]
    list_select_related = ["division", "uploaded_by"]
    fields = [
        "filename",
        "division",
        "uploaded_by",
        "uploaded_at",
        "sha256",
        "status",
        "total_rows",
        "new",
        "changed",
        "unchanged",
        "errors",
        "error",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportBatch]:
        return ImportBatch.objects.visible_to(request.user).defer("content", "report")

    @admin.display(description=_("change requests"))
    def requests(self, obj: ImportBatch) -> str:
        url = reverse("admin:members_changerequest_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("show"))


@admin.register(ImportValueChoice)
class ImportValueChoiceAdmin(ReadOnlyRecordAdmin):
    """The value corrections remembered for a division's uploads. They are made and changed in
    the import's value step; here they are looked up and forgotten (audited)."""

    list_display = ["division", "field", "key", "choice", "decided_by", "decided_at"]
    list_filter = ["field", StateFilter]
    list_select_related = ["division", "decided_by"]
    search_fields = ["key"]
    fields = list_display
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportValueChoice]:
        return access.scope_by_division(
            super().get_queryset(request), request.user, access.Action.REQUEST_CHANGE
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("members.delete_importvaluechoice")

    def delete_model(self, request: HttpRequest, obj: ImportValueChoice) -> None:
        imports.forget_value(choice=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ImportValueChoice]) -> None:
        for choice in queryset:
            imports.forget_value(choice=choice, by=request.user)


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnlyRecordAdmin):
    list_display = ["exported_at", "exported_by", "division", "purpose", "file_format", "rows"]
    list_filter = ["file_format", StateFilter]
    search_fields = ["purpose", "exported_by__email"]
    list_select_related = ["exported_by", "division"]
    readonly_fields = [
        "exported_at",
        "exported_by",
        "division",
        "purpose",
        "filters",
        "file_format",
        "rows",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExportLog]:
        return access.scope_by_division(
            super().get_queryset(request), request.user, access.Action.EXPORT_MEMBERS
        )
