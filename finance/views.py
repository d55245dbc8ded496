from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from finance import statements
from finance.models import MonthlyStatement
from members.access import Action, get_visible_or_404
from members.models import Member


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
    response["Content-Disposition"] = (
        f'attachment; filename="kontoauszug-{statement.division.code}-{statement.period:%Y-%m}.xlsx"'
    )
    return response
