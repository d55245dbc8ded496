from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

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
