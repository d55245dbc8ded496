"""The annual contribution receipts in the admin (finance.receipts): the wording (the federal
office's), the runs (the federal office starts them after a dry run and watches them work,
then downloads the print file) and the receipts (boards and treasurers see those of their
area, as they see mandates)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from finance import receipts, receipts_pdf
from finance.letters import PDF, money, short_date
from finance.models import ContributionReceipt, ReceiptRun, ReceiptWording
from members import access, exports
from members.admin_register import ReadOnlyRecordAdmin
from members.models import Division


class ReceiptWordingForm(forms.ModelForm):
    class Meta:
        model = ReceiptWording
        fields = [
            "party_name",
            "party_address",
            "title",
            "declarations",
            "notice",
            "place",
            "signatory",
        ]
        widgets = {
            "party_address": forms.Textarea(attrs={"rows": 3, "cols": 60}),
            "title": forms.TextInput(attrs={"size": 90}),
            "declarations": forms.Textarea(attrs={"rows": 16, "cols": 90}),
            "notice": forms.Textarea(attrs={"rows": 4, "cols": 90}),
        }


@admin.register(ReceiptWording)
class ReceiptWordingAdmin(admin.ModelAdmin):
    """The federal office's alone. A version receipts were issued with stays as it is: a
    change is a new version, prefilled with the newest."""

    form = ReceiptWordingForm
    list_display = ["__str__", "place", "signatory", "created_by", "created_at"]
    list_select_related = ["created_by"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not access.has_global_access(request.user):
            return False
        if obj is not None and ContributionReceipt.objects.filter(wording=obj).exists():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        current = receipts.current_wording()
        return {name: getattr(current, name) for name in ReceiptWordingForm.Meta.fields}

    def save_model(
        self, request: HttpRequest, obj: ReceiptWording, form: Any, change: bool
    ) -> None:
        receipts.save_wording(wording=obj, by=request.user)


class ReceiptStateFilter(admin.SimpleListFilter):
    title = _("state of the receipt")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("current", _("current")), ("superseded", _("replaced or withdrawn"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[ContributionReceipt]
    ) -> QuerySet[ContributionReceipt]:
        if self.value() == "current":
            return queryset.filter(superseded_at__isnull=True)
        if self.value() == "superseded":
            return queryset.filter(superseded_at__isnull=False)
        return queryset


@admin.register(ContributionReceipt)
class ContributionReceiptAdmin(ReadOnlyRecordAdmin):
    """Seen by boards and treasurers for their area (as mandates); issued by runs only."""

    list_display = ["number", "member", "year", "total_sum", "channel", "state", "issued_on"]
    list_filter = [ReceiptStateFilter, "year", "channel"]
    list_select_related = ["member"]
    search_fields = ["number", "member__search_text"]
    show_full_result_count = False
    fields = [
        "number",
        "member",
        "year",
        "issued_on",
        "dues",
        "donations",
        "contribution_lines",
        "address",
        "channel",
        "state",
        "replaces",
        "replaced_by_number",
        "run",
    ]
    readonly_fields = fields
    change_form_template = "admin/finance/contributionreceipt/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContributionReceipt]:
        # The list's own select_related is skipped when the queryset has one: all here.
        return ContributionReceipt.objects.visible_to(request.user).select_related(
            "member", "replaces", "replaced_by"
        )

    def get_urls(self) -> list:
        pdf = self.admin_site.admin_view(self.pdf_view)
        return [
            path("<int:pk>/pdf/", pdf, name="finance_contributionreceipt_pdf"),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The receipt as issued, rendered again from its row; out of the user's area it
        does not exist."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        receipt = get_object_or_404(
            self.get_queryset(request).select_related("member__division", "wording"), pk=pk
        )
        exports.log_export(
            by=request.user,
            division=receipt.member.division,
            purpose=str(_("Contribution receipt %(number)s") % {"number": receipt.number}),
            filters={"receipt": receipt.number},
            file_format="pdf",
            rows=1,
            member_ids=[receipt.member_id],
        )
        response = HttpResponse(receipts.render(receipt), content_type=PDF)
        response["Content-Disposition"] = content_disposition_header(
            True, receipts_pdf.file_name(receipt)
        )
        return response

    @admin.display(description=_("total (€)"))
    def total_sum(self, obj: ContributionReceipt) -> str:
        return money(obj.total)

    @admin.display(description=_("state"))
    def state(self, obj: ContributionReceipt) -> str:
        if obj.superseded_at is None:
            return str(_("current"))
        if hasattr(obj, "replaced_by"):
            return str(_("replaced by %(number)s") % {"number": obj.replaced_by.number})
        return str(_("withdrawn"))

    @admin.display(description=_("replaced by"))
    def replaced_by_number(self, obj: ContributionReceipt) -> str:
        return obj.replaced_by.number if hasattr(obj, "replaced_by") else "–"

    @admin.display(description=_("contributions"))
    def contribution_lines(self, obj: ContributionReceipt) -> str:
        kinds = {"dues": _("Membership fee"), "donation": _("Monetary donation")}
        return format_html(
            "<table><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (short_date(date.fromisoformat(day)), kinds[kind], money(Decimal(amount)))
                    for day, kind, amount in obj.lines
                ),
            ),
        )


class ReceiptRunForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    division = forms.ModelChoiceField(
        label=_("Only this division and below"),
        queryset=Division.objects.order_by("path"),
        required=False,
    )

    def clean_year(self) -> int:
        year = self.cleaned_data["year"]
        receipts.check_year(year)
        return year


@admin.register(ReceiptRun)
class ReceiptRunAdmin(ReadOnlyRecordAdmin):
    """The federal office's runs: a dry run first, then the worker issues and sends the
    receipts while the page shows how far it got; then the print file."""

    list_display = [
        "year",
        "division",
        "dry_run",
        "status",
        "progress",
        "issued",
        "corrected",
        "withdrawn",
        "emailed",
        "letters",
        "created_by",
        "created_at",
    ]
    list_select_related = ["division", "created_by"]
    list_filter = ["year", "dry_run", "status"]
    fields = [
        "year",
        "division",
        "dry_run",
        "status",
        "created_by",
        "created_at",
        "finished_at",
        "error",
    ]
    readonly_fields = fields
    change_list_template = "admin/finance/receiptrun/change_list.html"
    change_form_template = "admin/finance/receiptrun/change_form.html"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_view_permission(request, obj)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("new/", wrap(self.new_view), name="finance_receiptrun_new"),
            path(
                "<int:pk>/progress/", wrap(self.progress_view), name="finance_receiptrun_progress"
            ),
            path(
                "<int:pk>/print/<int:part>/", wrap(self.print_view), name="finance_receiptrun_print"
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("progress"))
    def progress(self, obj: ReceiptRun) -> str:
        return f"{obj.done} / {obj.total}"

    def new_view(self, request: HttpRequest) -> HttpResponse:
        """Start a dry run (the worker counts what a run would do, the run's page shows it) or
        the run itself: both go to the run's page, which follows the worker."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ReceiptRunForm(request.POST or None, initial={"year": timezone.localdate().year - 1})
        if request.method == "POST" and form.is_valid():
            try:
                run = receipts.start_run(
                    year=form.cleaned_data["year"],
                    division=form.cleaned_data["division"],
                    by=request.user,
                    dry_run="start" not in request.POST,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return HttpResponseRedirect(
                    reverse("admin:finance_receiptrun_change", args=[run.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue contribution receipts"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/finance/receiptrun/new.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id) if self.has_view_permission(request) else None
        extra = {"progress_html": self._progress_html(request, run)} if run else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The progress, polled by the run's page every second while it works."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(ReceiptRun, pk=pk)
        return HttpResponse(self._progress_html(request, run))

    def _progress_html(self, request: HttpRequest, run: ReceiptRun) -> str:
        working = run.status in (ReceiptRun.Status.QUEUED, ReceiptRun.Status.RUNNING)
        return render_to_string(
            "admin/finance/receiptrun/_progress.html",
            {
                "run": run,
                "working": working,
                "percent": (100 * run.done // run.total) if run.total else (0 if working else 100),
                "parts": [] if working else list(range(receipts.print_parts(run))),
                "part_size": receipts.PRINT_PART,
            },
            request=request,
        )

    def print_view(self, request: HttpRequest, pk: int, part: int) -> HttpResponse:
        """A part of the run's print file: the receipts of members without e-mail."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(ReceiptRun, pk=pk)
        if run.status != ReceiptRun.Status.DONE or part >= receipts.print_parts(run):
            raise Http404
        content, member_ids = receipts.print_pdf(run, part)
        exports.log_export(
            by=request.user,
            division=run.division or Division.objects.filter(depth=1).order_by("path").first(),
            purpose=str(
                _("Contribution receipts %(year)s to print, part %(part)s")
                % {"year": run.year, "part": part + 1}
            ),
            filters={"run": str(run.pk), "part": str(part + 1)},
            file_format="pdf",
            rows=len(member_ids),
            member_ids=member_ids,
        )
        response = HttpResponse(content, content_type=PDF)
        response["Content-Disposition"] = content_disposition_header(
            True, receipts.print_file_name(run, part)
        )
        return response
