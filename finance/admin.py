from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from finance import arrears, letters, payments, services, statements
from finance.camt import StatementError
from finance.models import (
    BankStatement,
    BankUpload,
    Charge,
    Collection,
    FeeRule,
    Mandate,
    MonthlyStatement,
    Payment,
    Payout,
    Reminder,
    SharePolicy,
    StrikeOff,
    Switchover,
)
from members import access
from members.admin_register import ReadOnlyRecordAdmin, RecordAdmin
from members.models import Division, Member
from ops import dispatch


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
                "summary": payments.summary_rows(upload.statement) if upload.statement else [],
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


class ReviewFilter(admin.SimpleListFilter):
    """The queue a person works: bookings of no member yet that are not other money (bank
    fees) and not already divided among members."""

    title = _("review")
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", _("waiting for a person"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Payment]) -> QuerySet[Payment]:
        if self.value() == "waiting":
            return payments.waiting_for_review(queryset)
        return queryset


@admin.register(Payment)
class PaymentAdmin(RecordAdmin):
    list_display = [
        "booked_on",
        "amount",
        "purpose",
        "counterparty_name",
        "reference",
        "member",
        "match",
        "suggested_member",
    ]
    list_filter = [
        ReviewFilter,
        ("member", admin.EmptyFieldListFilter),
        "purpose",
        "match",
        "method",
        "statement",
    ]
    search_fields = ["counterparty_name", "reference", "member__search_text"]
    list_select_related = ["member", "suggested_member"]
    autocomplete_fields = ["member"]
    actions = ["accept_suggestions", "accept_proposed_splits"]
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
            "proposal",
            "split_from",
            "amount",
            "purpose",
            "booked_on",
            "method",
            "return_reason",
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
        if obj.member_id is None and obj.match != Payment.Match.DIVIDED:
            return fields
        return [*fields, "member"]

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

    @admin.action(description=_("Split as proposed (references naming several members)"))
    def accept_proposed_splits(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        done = 0
        for payment in queryset.filter(member__isnull=True, match=Payment.Match.SPLIT):
            members = {
                m.pk: m
                for m in bookable_members(request).filter(
                    pk__in=[part["member"] for part in payment.proposal]
                )
            }
            if len(members) < len(payment.proposal):
                continue  # a member the user may not book for: left for the federal office
            try:
                payments.split_payment(
                    payment=payment,
                    parts=[(members[p["member"]], Decimal(p["amount"])) for p in payment.proposal],
                    by=request.user,
                )
            except StatementError as error:
                self.message_user(request, f"{payment}: {error}", messages.ERROR)
                continue
            done += 1
        self.message_user(request, _("%d payments split.") % done, messages.SUCCESS)


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
        sent = sum(
            statements.send(statement, again=True, by=request.user) for statement in queryset
        )
        self.message_user(request, _("%d e-mails queued.") % sent, messages.SUCCESS)


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyRecordAdmin):
    list_display = ["sent_on", "member", "level", "channel", "amount", "arrears_since", "reference"]
    list_filter = ["level", "channel", "sent_on"]
    list_select_related = ["member"]
    search_fields = ["member__search_text"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reminder]:
        return arrears.reminders_visible_to(request.user)


class StrikeOffNoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


@admin.register(StrikeOff)
class StrikeOffAdmin(ReadOnlyRecordAdmin):
    """Read by boards and treasurers for their area; decided, objected and dropped by the
    federal office alone, through the actions (never by editing a row)."""

    list_display = [
        "member",
        "member_division",
        "arrears_since",
        "amount",
        "proposed_on",
        "status",
        "objection_until",
    ]
    list_filter = ["status", "proposed_on"]
    list_select_related = ["member", "member__division"]
    search_fields = ["member__search_text"]
    show_full_result_count = False
    fields = [
        "member",
        "arrears_since",
        "amount",
        "proposed_on",
        "status",
        "decided_on",
        "decided_by",
        "objection_until",
        "note",
    ]
    readonly_fields = fields
    actions = ["decide", "record_objection", "drop", "print_letters"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StrikeOff]:
        return arrears.strike_offs_visible_to(request.user)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user)

    @admin.display(description=_("division"), ordering="member__division__name")
    def member_division(self, obj: StrikeOff) -> str:
        return obj.member.division.name

    def _report(self, request: HttpRequest, done: str, failed: list[str]) -> None:
        self.message_user(request, done, messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(
        description=_("Decide: strike off (the member is told and may object)"),
        permissions=["decide"],
    )
    def decide(self, request: HttpRequest, queryset: QuerySet[StrikeOff]) -> None:
        """Each in its own transaction: one that fails leaves the others decided."""
        decided, on_paper, failed = 0, 0, []
        today = timezone.localdate()
        for strike in queryset.filter(status=StrikeOff.Status.PROPOSED).select_related("member"):
            try:
                arrears.decide_strike_off(strike=strike, by=request.user, on=today)
            except ValidationError as error:
                failed.append(" ".join(error.messages))
            else:
                decided += 1
                on_paper += not strike.member.email
        self._report(
            request,
            ngettext("%d strike-off decided.", "%d strike-offs decided.", decided) % decided,
            failed,
        )
        if on_paper:
            self.message_user(
                request,
                ngettext(
                    "%d member has no e-mail address: print the letter with the action "
                    "“Letters for the selected decisions”.",
                    "%d members have no e-mail address: print their letters with the action "
                    "“Letters for the selected decisions”.",
                    on_paper,
                )
                % on_paper,
                messages.WARNING,
            )

    def _with_note(
        self,
        request: HttpRequest,
        queryset: QuerySet[StrikeOff],
        *,
        action: str,
        title: str,
        apply: Any,
    ) -> HttpResponse | None:
        form = StrikeOffNoteForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done, failed = 0, []
            for strike in queryset:
                try:
                    apply(strike, form.cleaned_data["note"])
                except ValidationError as error:
                    failed.append(f"{strike.member}: {' '.join(error.messages)}")
                else:
                    done += 1
            self._report(
                request, _("%(title)s: %(done)d done.") % {"title": title, "done": done}, failed
            )
            return None
        return TemplateResponse(
            request,
            "admin/finance/strikeoff/note.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "strikes": queryset.select_related("member"),
                "opts": self.model._meta,
                "action": action,
                "title": title,
            },
        )

    @admin.action(description=_("Record the member's objection"), permissions=["decide"])
    def record_objection(
        self, request: HttpRequest, queryset: QuerySet[StrikeOff]
    ) -> HttpResponse | None:
        return self._with_note(
            request,
            queryset,
            action="record_objection",
            title=_("Record the member's objection"),
            apply=lambda strike, note: arrears.record_objection(
                strike=strike, by=request.user, note=note
            ),
        )

    @admin.action(description=_("Drop (e.g. the member paid)"), permissions=["decide"])
    def drop(self, request: HttpRequest, queryset: QuerySet[StrikeOff]) -> HttpResponse | None:
        return self._with_note(
            request,
            queryset,
            action="drop",
            title=_("Drop the strike-off"),
            apply=lambda strike, note: arrears.drop_strike_off(
                strike=strike, by=request.user, note=note
            ),
        )

    @admin.action(
        description=_("Letters for the selected decisions (members without e-mail)"),
        permissions=["decide"],
    )
    def print_letters(
        self, request: HttpRequest, queryset: QuerySet[StrikeOff]
    ) -> HttpResponse | None:
        strikes = list(
            queryset.filter(status=StrikeOff.Status.DECIDED, member__email="")
            .select_related("member")
            .order_by("member__postal_code", "member__last_name", "pk")
        )
        if not strikes:
            self.message_user(
                request, _("None of the selected decisions is to be sent by letter."), messages.INFO
            )
            return None
        response = HttpResponse(letters.strike_off_letters_pdf(strikes), content_type=letters.PDF)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"streichungen-{timezone.localdate().isoformat()}.pdf"
        )
        return response


class SwitchoverForm(forms.ModelForm):
    file = forms.FileField(
        label=_("Export of the previous system"),
        help_text=_(
            "One row per member (.csv, .xlsx or .ods): number, names, address, contact, date of "
            "birth, division, entry, status, end and reason, fee, balance at the cut-over."
        ),
    )

    class Meta:
        model = Switchover
        fields = ["cutover_on", "values"]
        widgets = {"values": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cutover_on"].initial = timezone.localdate()
        self.fields["values"].required = False

    def clean_cutover_on(self) -> Any:
        cutover_on = self.cleaned_data["cutover_on"]
        if cutover_on > timezone.localdate():
            raise ValidationError(_("The cut-over date may not lie in the future."))
        return cutover_on


@admin.register(Switchover)
class SwitchoverAdmin(FederalWrites, admin.ModelAdmin):
    """The federal switch-over: upload the export, read the dry run's report, apply once."""

    list_display = ["filename", "status", "cutover_on", "created_by", "created_at", "applied_at"]
    readonly_fields = [
        "filename",
        "sha256",
        "cutover_on",
        "status",
        "created_by",
        "created_at",
        "applied_at",
        "values",
        "report_view",
    ]
    fields = readonly_fields
    change_form_template = "admin/finance/switchover/change_form.html"

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = SwitchoverForm
            kwargs["fields"] = ["file", "cutover_on", "values"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["file", "cutover_on", "values"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Switchover, form: Any, change: bool) -> None:
        from finance import switchover, tasks

        upload = form.cleaned_data["file"]
        created = switchover.create(
            by=request.user,
            content=upload.read(),
            filename=upload.name,
            values=form.cleaned_data.get("values") or {},
            cutover_on=form.cleaned_data["cutover_on"],
        )
        obj.pk = created.pk  # the admin's redirect names it
        dispatch.enqueue(tasks.check_switchover, created.pk)

    def response_add(self, request: HttpRequest, obj: Switchover, *args: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:finance_switchover_change", args=[obj.pk]))

    @admin.display(description=_("reconciliation report"))
    def report_view(self, obj: Switchover) -> str:
        from django.template.loader import render_to_string

        return render_to_string("admin/finance/switchover/_report.html", {"report": obj.report})

    def get_urls(self) -> list:
        apply = self.admin_site.admin_view(self.apply_view)
        return [
            path("<int:pk>/apply/", apply, name="finance_switchover_apply"),
            *super().get_urls(),
        ]

    def apply_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        record = get_object_or_404(Switchover, pk=pk)
        back = HttpResponseRedirect(reverse("admin:finance_switchover_change", args=[pk]))
        if request.method != "POST" or not self.has_add_permission(request):
            return back
        claimed = Switchover.objects.filter(pk=pk, status=Switchover.Status.CHECKED).update(
            status=Switchover.Status.APPLYING
        )
        if not claimed:
            messages.error(request, _("Only a checked switch-over can be applied."))
            return back
        from finance import tasks

        dispatch.enqueue(tasks.apply_switchover, record.pk, request.user.pk)
        messages.info(request, _("The register is being brought in; this page shows the result."))
        return back


class MandateForm(forms.ModelForm):
    """A signed mandate as the federal office records it; the IBAN is checked here and the
    BIC derived (finance.sepa)."""

    class Meta:
        model = Mandate
        fields = ["member", "holder", "iban", "signed_on", "monthly"]
        help_texts = {
            "monthly": _(
                "Monthly instalments from 36 € a year, beginning with the next dues charged "
                "(dues already charged keep their due dates)."
            )
        }

    def clean_iban(self) -> str:
        from finance import sepa

        return sepa.check_iban(self.cleaned_data["iban"])[0]

    def clean(self) -> dict[str, Any]:
        from finance import sepa

        data = super().clean()
        if data.get("member") and data.get("signed_on") and "holder" in data:
            data["holder"] = sepa.check_mandate(
                member=data["member"],
                holder=data["holder"],
                signed_on=data["signed_on"],
                monthly=data.get("monthly", False),
            )
        return data


@admin.register(Mandate)
class MandateAdmin(ReadOnlyRecordAdmin):
    """Seen by boards and treasurers for their area; recorded by the federal office."""

    list_display = ["reference", "member", "holder", "iban_end", "signed_on", "state"]
    list_select_related = ["member"]
    search_fields = ["reference", "member__search_text"]
    raw_id_fields = ["member"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Mandate]:
        return access.scope_by_division(
            super().get_queryset(request),
            request.user,
            access.Action.VIEW_FINANCE,
            field="member__division",
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = MandateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["member", "holder", "iban", "signed_on", "monthly"]
        return [
            "reference",
            "member",
            "holder",
            "iban",
            "bic",
            "signed_on",
            "monthly",
            "last_collected_on",
            "revoked_on",
            "unusable_since",
            "unusable_reason",
            "created_by",
            "created_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Mandate, form: Any, change: bool) -> None:
        from finance import sepa

        created = sepa.record_mandate(  # the form made the same checks
            member=form.cleaned_data["member"],
            iban=form.cleaned_data["iban"],
            holder=form.cleaned_data["holder"],
            signed_on=form.cleaned_data["signed_on"],
            monthly=form.cleaned_data["monthly"],
            by=request.user,
        )
        obj.pk = created.pk

    @admin.display(description=_("IBAN"))
    def iban_end(self, obj: Mandate) -> str:
        return f"… {obj.iban[-4:]}"

    @admin.display(description=_("state"))
    def state(self, obj: Mandate) -> str:
        from finance import sepa

        return sepa.state_label(obj, timezone.localdate())


class CollectionForm(forms.Form):
    due_on = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))
    division = forms.ModelChoiceField(
        label=_("Only this division and below"),
        queryset=Division.objects.order_by("path"),
        required=False,
    )


@admin.register(Collection)
class CollectionAdmin(ReadOnlyRecordAdmin):
    """The federal office's direct-debit runs: a dry run first, then the file for the bank."""

    list_display = ["due_on", "division", "count", "total", "created_by", "created_at"]
    readonly_fields = ["due_on", "division", "message_id", "count", "total", "created_by"]
    fields = readonly_fields
    change_list_template = "admin/finance/collection/change_list.html"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_view_permission(request, obj)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("new/", wrap(self.new_view), name="finance_collection_new"),
            path("run/<str:token>/", wrap(self.run_view), name="finance_collection_run"),
            path("<int:pk>/file/", wrap(self.file_view), name="finance_collection_file"),
            path("<int:pk>/letters/", wrap(self.letters_view), name="finance_collection_letters"),
            *super().get_urls(),
        ]

    def new_view(self, request: HttpRequest) -> HttpResponse:
        from finance import sepa

        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CollectionForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            due_on, division = form.cleaned_data["due_on"], form.cleaned_data["division"]
            if "create" in request.POST:
                token = sepa.start_run(due_on=due_on, division=division, by=request.user)
                return HttpResponseRedirect(reverse("admin:finance_collection_run", args=[token]))
            result = sepa.plan(due_on=due_on, division=division)
        context = {
            **self.admin_site.each_context(request),
            "title": _("New direct-debit collection"),
            "opts": self.model._meta,
            "form": form,
            "result": result,
            "earliest": sepa.earliest_due_on(),
        }
        return TemplateResponse(request, "admin/finance/collection/new.html", context)

    def run_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """A collection being made by a worker: its progress (the page refreshes itself),
        then the collection, or what stopped it."""
        from finance import sepa

        if not self.has_view_permission(request):
            raise PermissionDenied
        state = sepa.run_state(token)
        if state is None or state.get("user") != request.user.pk:
            raise Http404
        if "collection" in state:
            messages.success(
                request,
                _("Collection made: %(count)s debits, %(total)s €.")
                % {
                    "count": state["count"],
                    "total": number_format(Decimal(state["total"]), 2, force_grouping=True),
                },
            )
            return HttpResponseRedirect(
                reverse("admin:finance_collection_change", args=[state["collection"]])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("New direct-debit collection"),
            "opts": self.model._meta,
            "state": state,
        }
        return TemplateResponse(request, "admin/finance/collection/run.html", context)

    def file_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        collection = get_object_or_404(Collection, pk=pk)
        response = HttpResponse(bytes(collection.xml), content_type="application/xml")
        response["Content-Disposition"] = content_disposition_header(
            True, f"lastschrift-{collection.due_on.isoformat()}-{collection.pk}.xml"
        )
        return response

    def letters_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from finance import sepa

        if not self.has_view_permission(request):
            raise PermissionDenied
        collection = get_object_or_404(Collection, pk=pk)
        debits = sepa.letters_of(collection)
        response = HttpResponse(letters.prenotification_letters_pdf(debits), "application/pdf")
        response["Content-Disposition"] = content_disposition_header(
            True, sepa.letters_file_name(collection)
        )
        return response


@admin.register(SharePolicy)
class SharePolicyAdmin(FederalWrites, admin.ModelAdmin):
    """What each state association passes down to its districts (the federal office keeps
    the finance order's settings)."""

    list_display = ["state", "district_percent"]
    list_select_related = ["state"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_view_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "state":
            kwargs["queryset"] = Division.objects.filter(level="state").order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class QuarterForm(forms.Form):
    quarter = forms.TypedChoiceField(label=_("Quarter"), coerce=date.fromisoformat)

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        from finance import shares

        super().__init__(*args, **kwargs)
        first, _last = shares.quarter_of(today)
        choices = []
        for _n in range(8):
            first, _last = shares.quarter_of(first - timedelta(days=1))
            choices.append((first.isoformat(), f"{first:%Y} Q{(first.month + 2) // 3}"))
        self.fields["quarter"].choices = choices
        self.fields["quarter"].initial = choices[0][0]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyRecordAdmin):
    """The quarterly payouts to the state associations and their districts: the report of
    what is owed (.xlsx), then each payout recorded, after which its shares are locked."""

    list_display = ["period", "state", "state_amount", "district_amount", "recorded_by"]
    list_filter = ["quarter"]
    list_select_related = ["state", "recorded_by"]
    change_list_template = "admin/finance/payout/change_list.html"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_view_permission(request, obj)

    @admin.display(description=_("quarter"), ordering="quarter")
    def period(self, obj: Payout) -> str:
        if obj.carried_over:
            return str(_("settled before payouts were recorded"))
        return f"{obj.quarter:%Y} Q{(obj.quarter.month + 2) // 3}"

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("report/", wrap(self.report_view), name="finance_payout_report"),
            path("report/xlsx/", wrap(self.workbook_view), name="finance_payout_workbook"),
            path("record/<int:state>/", wrap(self.record_view), name="finance_payout_record"),
            *super().get_urls(),
        ]

    def _quarter(self, request: HttpRequest) -> date:
        form = QuarterForm(request.GET or None, today=timezone.localdate())
        if form.is_bound and form.is_valid():
            return form.cleaned_data["quarter"]
        return date.fromisoformat(form.fields["quarter"].initial)

    def report_view(self, request: HttpRequest) -> HttpResponse:
        from finance import shares

        if not self.has_view_permission(request):
            raise PermissionDenied
        quarter = self._quarter(request)
        rows = shares.payout_rows(quarter)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Quarterly payout report"),
            "opts": self.model._meta,
            "form": QuarterForm(request.GET or None, today=timezone.localdate()),
            "quarter": quarter,
            "last": shares.quarter_of(quarter)[1],
            "rows": rows,
            "total": sum((row.amount for row in rows), Decimal(0)),
            "recorded": set(
                Payout.objects.filter(quarter=quarter).values_list("state_id", flat=True)
            ),
        }
        return TemplateResponse(request, "admin/finance/payout/report.html", context)

    def workbook_view(self, request: HttpRequest) -> HttpResponse:
        from finance import shares

        if not self.has_view_permission(request):
            raise PermissionDenied
        quarter = self._quarter(request)
        response = HttpResponse(
            shares.payout_workbook(quarter),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        name = f"auszahlung-{quarter:%Y}-q{(quarter.month + 2) // 3}.xlsx"
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response

    def record_view(self, request: HttpRequest, state: int) -> HttpResponse:
        """Asks first (the payout locks the shares), then records it."""
        from finance import shares

        if not self.has_view_permission(request):
            raise PermissionDenied
        division = get_object_or_404(Division, pk=state, level="state")
        quarter = self._quarter(request)
        rows = [
            row
            for row in shares.payout_rows(quarter)
            if row.state_code == division.code and row.division_id
        ]
        if request.method == "POST":
            try:
                payout = shares.record_payout(quarter=quarter, state=division, by=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(
                    request,
                    _("Payout to %(state)s recorded: %(total)s €. Its shares are locked now.")
                    % {
                        "state": division.name,
                        "total": number_format(
                            payout.state_amount + payout.district_amount, 2, force_grouping=True
                        ),
                    },
                )
            return HttpResponseRedirect(
                f"{reverse('admin:finance_payout_report')}?quarter={quarter.isoformat()}"
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record the payout to %(state)s") % {"state": division.name},
            "opts": self.model._meta,
            "division": division,
            "quarter": quarter,
            "rows": rows,
            "total": sum((row.amount for row in rows), Decimal(0)),
        }
        return TemplateResponse(request, "admin/finance/payout/record.html", context)


from finance import admin_receipts  # noqa: E402, F401 - the receipts register their admin
