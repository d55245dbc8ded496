from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance import payments, services, statements
from finance.models import BankStatement, BankUpload, Charge, FeeRule, MonthlyStatement, Payment
from members import access
from members.admin_register import ReadOnlyRecordAdmin, RecordAdmin
from members.models import Member


class FederalWrites:
    """Writes here are the federal office's alone, whatever model permissions a staff account
    holds: the rules of the finance order, the bank's files."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return access.has_global_access(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_delete_permission(
            request, obj
        )


@admin.register(FeeRule)
class FeeRuleAdmin(FederalWrites, admin.ModelAdmin):
    list_display = [
        "fee_class",
        "yearly_amount",
        "valid_from",
        "valid_until",
        "due_month",
        "due_day",
        "grace_days",
    ]
    list_filter = ["fee_class"]
    actions = ["run_dues_this_year"]

    @admin.action(
        description=_("Charge this year's dues for every member (only differences)"),
        permissions=["change"],
    )
    def run_dues_this_year(self, request: HttpRequest, queryset: QuerySet[FeeRule]) -> None:
        result = services.run_dues(year=timezone.localdate().year, by=request.user)
        self.message_user(
            request,
            _(
                "Dues %(year)s: %(charged)s charged, %(corrected)s corrected, %(unchanged)s unchanged."
            )
            % {
                "year": result.year,
                "charged": result.charged,
                "corrected": result.corrected,
                "unchanged": result.unchanged,
            },
            messages.SUCCESS,
        )


@admin.register(Charge)
class ChargeAdmin(ReadOnlyRecordAdmin):
    list_display = ["member", "year", "kind", "amount", "due_on", "memo"]
    list_filter = ["year", "kind"]
    search_fields = ["member__search_text"]
    list_select_related = ["member"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Charge]:
        return access.scope_by_division(
            super().get_queryset(request),
            request.user,
            access.Action.VIEW_FINANCE,
            field="member__division",
        )


class StatementUploadForm(forms.Form):
    file = forms.FileField(label=_("CAMT.053 file (.xml) or the bank's CSV export"))


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "uploaded_at",
        "filename",
        "statement_id",
        "account_iban",
        "booked",
        "matched",
        "skipped",
    ]
    change_list_template = "admin/finance/bankstatement/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[BankStatement]:
        qs = super().get_queryset(request)
        return qs if access.has_global_access(request.user) else qs.none()

    def get_urls(self) -> list:
        upload = self.admin_site.admin_view(self.upload_view)
        status = self.admin_site.admin_view(self.upload_status_view)
        return [
            path("upload/", upload, name="finance_bankstatement_upload"),
            path("upload/<int:pk>/", status, name="finance_bankupload_status"),
            *super().get_urls(),
        ]

    def _may_upload(self, request: HttpRequest) -> bool:
        # A bank file books onto members of every state: the federal office's alone.
        return access.has_global_access(request.user) and request.user.has_perm(
            "finance.add_payment"
        )

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self._may_upload(request):
            return HttpResponseRedirect(reverse("admin:finance_bankstatement_changelist"))
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_BANK_FILE:
                form.add_error("file", _("The file is larger than 10 MB."))
            else:
                # Read and booked by the worker: the web process only keeps the file.
                queued = payments.queue_bank_file(
                    content=upload.read(), filename=upload.name, by=request.user
                )
                return HttpResponseRedirect(
                    reverse("admin:finance_bankupload_status", args=[queued.pk])
                )
        return TemplateResponse(
            request,
            "admin/finance/bankstatement/upload.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "opts": self.model._meta,
                "title": _("Import a bank statement"),
            },
        )

    def upload_status_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self._may_upload(request):
            return HttpResponseRedirect(reverse("admin:finance_bankstatement_changelist"))
        upload = get_object_or_404(BankUpload, pk=pk)
        return TemplateResponse(
            request,
            "admin/finance/bankstatement/upload_status.html",
            {
                **self.admin_site.each_context(request),
                "upload": upload,
                "statement": upload.statement,
                "opts": self.model._meta,
                "title": _("Import a bank statement"),
                "waiting": upload.status in (BankUpload.Status.QUEUED, BankUpload.Status.IMPORTING),
            },
        )


MAX_BANK_FILE = 10 * 1024 * 1024


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ["member", "amount", "booked_on", "method", "reference"]


def bookable_members(request: HttpRequest) -> QuerySet[Member]:
    """Whom the user may book a payment for: an unknown and a foreign member look the same."""
    return Member.objects.visible_to(request.user, access.Action.BOOK_PAYMENT)


@admin.register(Payment)
class PaymentAdmin(RecordAdmin):
    list_display = [
        "booked_on",
        "amount",
        "counterparty_name",
        "reference",
        "member",
        "match",
        "suggested_member",
    ]
    list_filter = [("member", admin.EmptyFieldListFilter), "match", "method", "statement"]
    search_fields = ["counterparty_name", "reference", "member__search_text"]
    list_select_related = ["member", "suggested_member"]
    autocomplete_fields = ["member"]
    actions = ["accept_suggestions"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payment]:
        qs = super().get_queryset(request)
        if access.has_global_access(request.user):
            return qs  # unmatched bookings included: they belong to no division yet
        return access.scope_by_division(
            qs, request.user, access.Action.VIEW_FINANCE, field="member__division"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("finance.add_payment")  # manual entries (cash, corrections)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "member":
            kwargs["queryset"] = bookable_members(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = PaymentForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return PaymentForm.Meta.fields
        return [
            "member",
            "suggested_member",
            "match",
            "amount",
            "booked_on",
            "method",
            "reference",
            "counterparty_name",
            "counterparty_iban",
            "bank_reference",
            "end_to_end_id",
            "statement",
            "reverses",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        fields = [f for f in self.get_fields(request, obj) if f != "member"]
        return fields if obj.member_id is None else [*fields, "member"]

    def save_model(self, request: HttpRequest, obj: Payment, form: Any, change: bool) -> None:
        if not change:
            saved = payments.record_payment(
                member=form.cleaned_data["member"],
                amount=form.cleaned_data["amount"],
                booked_on=form.cleaned_data["booked_on"],
                method=form.cleaned_data["method"],
                reference=form.cleaned_data["reference"],
                by=request.user,
            )
            obj.pk = saved.pk
        elif "member" in form.changed_data and form.cleaned_data["member"] is not None:
            # Only unassigned bookings are open to this: the federal office's queue.
            payments.assign_payment(
                payment=obj, member=form.cleaned_data["member"], by=request.user
            )

    @admin.action(description=_("Assign the suggested members"))
    def accept_suggestions(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        done = 0
        for payment in queryset.filter(
            member__isnull=True, suggested_member__isnull=False
        ).select_related("suggested_member"):
            payments.assign_payment(
                payment=payment, member=payment.suggested_member, by=request.user
            )
            done += 1
        self.message_user(request, _("%d payments assigned.") % done, messages.SUCCESS)


@admin.register(MonthlyStatement)
class MonthlyStatementAdmin(ReadOnlyRecordAdmin):
    list_display = ["period", "division", "status", "sent_at", "recipient_count"]
    list_filter = ["status", "period"]
    list_select_related = ["division"]
    fields = ["division", "period", "status", "sent_at", "recipients", "figures"]
    readonly_fields = fields
    actions = ["send_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MonthlyStatement]:
        return MonthlyStatement.objects.visible_to(request.user).defer("workbook")

    @admin.display(description=_("recipients"))
    def recipient_count(self, obj: MonthlyStatement) -> int:
        return len(obj.recipients)

    @admin.action(description=_("Send the selected statements again"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[MonthlyStatement]) -> None:
        sent = sum(statements.send(statement, again=True) for statement in queryset)
        self.message_user(request, _("%d e-mails queued.") % sent, messages.SUCCESS)
