from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header

from finance import statements
from finance.models import MonthlyStatement, Payment
from members import charts, queries, stats
from members.access import Action, get_visible_or_404
from members.models import Division, Member, PaymentStatus


@login_required
def member_account(request: HttpRequest, pk: int) -> HttpResponse:
    """A member's charges and payments, for boards and treasurers (an htmx fragment)."""
    member = get_visible_or_404(request.user, Member, Action.VIEW_FINANCE, pk=pk)
    return render(
        request,
        "finance/_member_account.html",
        {
            "member": member,
            "charges": member.charges.order_by("-due_on", "-pk")[:100],
            "payments": member.payments.order_by("-booked_on", "-pk")[:100],
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
        {"page_obj": Paginator(statements, 50).get_page(request.GET.get("page"))},
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
            "page_obj": Paginator(arrears, 50).get_page(request.GET.get("page")),
        },
    )
