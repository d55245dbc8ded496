from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members import access, charts, queries, services, stats
from members.access import Action, get_visible_or_404
from members.forms import GrantRoleForm
from members.models import ChangeRequest, Division, DivisionLevel, Role, RoleAssignment


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The start page. Someone with one division goes straight to its dashboard; the federal
    office keeps the page for its notice and the link to the national dashboard."""
    mine = queries.my_divisions(request.user)
    federal = access.has_global_access(request.user)
    if len(mine) == 1 and mine[0].can_open and not federal:
        return redirect("members:division_detail", pk=mine[0].division.pk)
    return render(
        request,
        "members/dashboard.html",
        {
            "my_divisions": mine,
            "is_federal_admin": federal,
            "national": Division.objects.filter(level=DivisionLevel.FEDERAL).first()
            if federal
            else None,
        },
    )


@login_required
def division_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The division's dashboard: members now, recent entries and exits, 24 months."""
    division = get_visible_or_404(request.user, Division, Action.VIEW_DIVISION, pk=pk)
    total, children = stats.division_figures(division, timezone.localdate())
    return render(
        request,
        "members/division_detail.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "total": total,
            "windows": stats.WINDOWS,
            "chart": charts.membership_chart(total.series),
            "series_rows": zip(
                total.series.months,
                total.series.members,
                total.series.entries,
                total.series.exits,
                strict=True,
            ),
            "children": [
                (figures, charts.sparkline(figures.series.members)) for figures in children
            ],
            "open_requests": ChangeRequest.objects.visible_to(request.user)
            .open()
            .in_subtree(division)
            .count(),
            "can_view_members": access.can(request.user, Action.VIEW_MEMBERS, division),
            "can_request": access.can(request.user, Action.REQUEST_CHANGE, division),
            "can_manage_roles": access.can(request.user, Action.MANAGE_ROLES, division),
            "can_view_finance": access.can(request.user, Action.VIEW_FINANCE, division),
        },
    )


@login_required
def division_roles(request: HttpRequest, pk: int) -> HttpResponse:
    division = get_visible_or_404(request.user, Division, Action.MANAGE_ROLES, pk=pk)
    assignments = queries.role_assignments_in_subtree(request.user, division)
    page = Paginator(assignments, 50).get_page(request.GET.get("page"))
    for assignment in page:
        assignment.revocable = access.can_revoke(request.user, assignment)
    return render(
        request,
        "members/division_roles.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "page_obj": page,
            "can_grant": bool(access.grantable_roles(request.user, division)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def role_grant(request: HttpRequest, pk: int) -> HttpResponse:
    division = get_visible_or_404(request.user, Division, Action.MANAGE_ROLES, pk=pk)
    roles = access.grantable_roles(request.user, division)
    if not roles:
        raise PermissionDenied
    form = GrantRoleForm(request.POST or None, roles=roles)
    if form.is_valid():
        data = form.cleaned_data
        try:
            assignment = services.grant_role(
                by=request.user,
                division=division,
                role=Role(data["role"]),
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(user)s now holds the role %(role)s in %(division)s.")
                % {
                    "user": data["email"],
                    "role": assignment.get_role_display(),
                    "division": division.name,
                },
            )
            return redirect("members:division_roles", pk=division.pk)
    return render(
        request,
        "members/role_grant.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "form": form,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def role_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = get_visible_or_404(
        request.user, RoleAssignment, Action.MANAGE_ROLES, pk=pk, revoked_at__isnull=True
    )
    if not access.can_revoke(request.user, assignment):
        raise PermissionDenied
    if request.method == "POST":
        services.revoke_role(by=request.user, assignment=assignment)
        messages.success(
            request,
            _("%(user)s no longer holds the role %(role)s in %(division)s.")
            % {
                "user": assignment.user,
                "role": assignment.get_role_display(),
                "division": assignment.division.name,
            },
        )
        return redirect("members:division_roles", pk=assignment.division_id)
    return render(
        request,
        "members/role_revoke.html",
        {
            "assignment": assignment,
            "ancestors": queries.visible_ancestors(request.user, assignment.division),
        },
    )
