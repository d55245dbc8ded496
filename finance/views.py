from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from finance import arrears, letters, sepa, statements
from finance import contributions as contribution_report
from finance.models import MonthlyStatement, Payment, Reminder, StrikeOff
from finance.references import reference_for
from members import access, access_log, charts, exports, queries, stats
from members.access import Action, get_visible_or_404
from members.models import AccessKind, Division, Member, PaymentStatus


@login_required
def member_account(request: HttpRequest, pk: int) -> HttpResponse:
    """A member's charges and payments, for boards and treasurers (an htmx fragment)."""
    member = get_visible_or_404(request.user, Member, Action.VIEW_FINANCE, pk=pk)
    access_log.note(request, AccessKind.PAGE, member=member, detail="finance")
    return render(
        request,
        "finance/_member_account.html",
        {
            "member": member,
            "reference": reference_for(member.membership_number, timezone.localdate()),
            "charges": member.charges.order_by("-due_on", "-pk")[:100],
            "payments": member.payments.order_by("-booked_on", "-pk")[:100],
            "reminders": member.reminders.order_by("-sent_on", "-level")[:20],
            "strike_offs": member.strike_offs.order_by("-proposed_on", "-pk")[:5],
            "mandates": [
                (mandate, sepa.state_label(mandate, timezone.localdate()))
                for mandate in member.mandates.order_by("-pk")[:10]
            ],
        },
    )


@login_required
def statement_list(request: HttpRequest) -> HttpResponse:
    statements = (
        MonthlyStatement.objects.visible_to(request.user)
        .select_related("division")
        .defer("workbook")
        .order_by("-period", "division__name")
    )
    return render(
        request,
        "finance/statement_list.html",
        {
            "page_obj": Paginator(statements, 50).get_page(request.GET.get("page")),
            "perms_global": access.has_global_access(request.user),
        },
    )


@login_required
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_visible_or_404(request.user, MonthlyStatement, Action.RECEIVE_STATEMENT, pk=pk)
    return render(
        request,
        "finance/statement_detail.html",
        {"statement": statement, "figures": statement.figures},
    )


@login_required
def statement_download(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_visible_or_404(request.user, MonthlyStatement, Action.RECEIVE_STATEMENT, pk=pk)
    # The workbook names the month's joiners and leavers.
    access_log.note(request, AccessKind.LIST, detail=f"statement {statement.pk}")
    response = HttpResponse(bytes(statement.workbook), content_type=statements.XLSX)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=statements.file_name(statement)
    )
    return response


@login_required
def division_overview(request: HttpRequest, pk: int) -> HttpResponse:
    """Share paid up, the arrears list and income per month, for boards and treasurers."""
    division = get_visible_or_404(request.user, Division, Action.VIEW_FINANCE, pk=pk)
    members = (
        Member.objects.visible_to(request.user, Action.VIEW_FINANCE).in_subtree(division).current()
    )
    counts = dict(members.values_list("payment_status").annotate(n=Count("pk")).order_by())
    total = sum(counts.values())
    today = timezone.localdate()
    months = stats.month_starts(today)
    income = dict(
        Payment.objects.filter(member__in=members, booked_on__gte=months[0], booked_on__lte=today)
        .annotate(month=TruncMonth("booked_on"))
        .values_list("month")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    income = {(k.date() if hasattr(k, "date") else k): v for k, v in income.items()}
    values = [income.get(month, Decimal(0)) for month in months]
    arrears = (
        members.filter(payment_status=PaymentStatus.IN_ARREARS)
        .select_related("division")
        .order_by("arrears_since", "last_name")
    )
    page = Paginator(arrears, 50).get_page(request.GET.get("page"))
    access_log.note(
        request, AccessKind.LIST, count=page.paginator.count, detail=f"in arrears {division.code}"
    )
    return render(
        request,
        "finance/division_overview.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "counts": {status: counts.get(status, 0) for status in PaymentStatus.values},
            "total": total,
            "share_paid": round(100 * counts.get(PaymentStatus.PAID_UP, 0) / total)
            if total
            else None,
            "chart": charts.bar_chart(months, values),
            "income_rows": list(zip(months, values, strict=True)),
            "page_obj": page,
        },
    )


def _arrears_division(request: HttpRequest) -> Division:
    """The division whose arrears are shown: ?division= (404 outside the user's finance
    area), else the top of that area."""
    pk = request.GET.get("division", "")
    if pk:
        if not pk.isdigit():
            raise Http404
        return get_visible_or_404(request.user, Division, Action.VIEW_FINANCE, pk=pk)
    top = (
        access.divisions_visible_to(request.user, Action.VIEW_FINANCE)
        .order_by("depth", "path")
        .first()
    )
    if top is None:
        raise Http404
    return top


@login_required
def arrears_overview(request: HttpRequest) -> HttpResponse:
    """Strike-off proposals and decisions, and the reminder letters to print, of a division
    and below, for boards and treasurers."""
    division = _arrears_division(request)
    within = {"member__division__path__startswith": division.path}
    strike_offs = (
        arrears.strike_offs_visible_to(request.user)
        .filter(status__in=arrears.OPEN, **within)
        .select_related("member", "member__division")
        .order_by("status", "objection_until", "proposed_on", "member__last_name", "pk")
    )
    letter_days = (
        arrears.reminders_visible_to(request.user)
        .filter(channel=Reminder.Channel.LETTER, **within)
        .values("sent_on")
        .annotate(count=Count("pk"))
        .order_by("-sent_on")[:12]
    )
    areas = access.root_paths(request.user, Action.VIEW_FINANCE)
    page = Paginator(strike_offs, 50).get_page(request.GET.get("page"))
    access_log.note(
        request, AccessKind.LIST, count=page.paginator.count, detail=f"arrears {division.code}"
    )
    return render(
        request,
        "finance/arrears.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "areas": Division.objects.filter(path__in=areas).order_by("path")
            if len(areas) > 1
            else [],
            "letter_days": list(letter_days),
            "page_obj": page,
            "decided": StrikeOff.Status.DECIDED,
        },
    )


@login_required
def reminder_letters(request: HttpRequest, day: str) -> HttpResponse:
    """The reminder letters of one day for a division and below, as a PDF to print; logged
    like every export of member data."""
    division = _arrears_division(request)
    try:
        sent_on = date.fromisoformat(day)
    except ValueError as error:
        raise Http404 from error
    rows = list(
        arrears.reminders_visible_to(request.user)
        .filter(
            channel=Reminder.Channel.LETTER,
            sent_on=sent_on,
            member__division__path__startswith=division.path,
        )
        .select_related("member")
        .order_by("member__postal_code", "member__last_name", "pk")
    )
    if not rows:
        raise Http404
    exports.log_export(
        by=request.user,
        division=division,
        purpose=_("Payment reminders of %(day)s, to print") % {"day": sent_on.isoformat()},
        filters={"sent_on": sent_on.isoformat(), "channel": Reminder.Channel.LETTER},
        file_format="pdf",
        rows=len(rows),
        member_ids=[row.member_id for row in rows],
    )
    response = HttpResponse(letters.letters_pdf(rows), content_type=letters.PDF)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"zahlungserinnerungen-{division.code}-{sent_on}.pdf"
    )
    return response


class ContributionsForm(forms.Form):
    year = forms.IntegerField(label=_lazy("Year"), min_value=2000, max_value=2100)
    purpose = forms.CharField(
        label=_lazy("Purpose of this export"),
        max_length=200,
        help_text=_lazy("Recorded with your name, e.g. “annual financial report 2026”."),
    )


@login_required
def contributions(request: HttpRequest) -> HttpResponse:
    """Dues and donations per person for a year, for the federal office's annual report."""
    if not access.has_global_access(request.user):
        raise Http404
    form = ContributionsForm(request.POST or None, initial={"year": timezone.localdate().year - 1})
    if form.is_valid():
        year = form.cleaned_data["year"]
        exports.log_export(
            by=request.user,
            division=Division.objects.get(depth=1),
            purpose=form.cleaned_data["purpose"],
            filters={"report": "contributions", "year": str(year)},
            file_format="csv",
            rows=0,  # counted from the members in it
            member_ids=contribution_report.members(year),
        )
        response = StreamingHttpResponse(
            contribution_report.csv_lines(year), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = content_disposition_header(
            True, f"beitraege-und-spenden-{year}.csv"
        )
        return response
    return render(request, "finance/contributions.html", {"form": form})
