from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members import access, access_log, queries, services
from members.access import Action, get_visible_or_404
from members.forms import (
    ContactForm,
    EntryForm,
    ExitForm,
    FeeClassForm,
    MandateRequestForm,
    TransferForm,
)
from members.models import (
    AccessKind,
    ChangeRequest,
    Division,
    Member,
    RequestKind,
    RequestStatus,
)
from members.policy import mandate_policy

MEMBER_FORMS = {
    RequestKind.CONTACT: ContactForm,
    RequestKind.EXIT: ExitForm,
    RequestKind.TRANSFER: TransferForm,
    RequestKind.FEE_CLASS: FeeClassForm,
    RequestKind.MANDATE: MandateRequestForm,
}


def _submitted(request: HttpRequest, change_request: ChangeRequest) -> HttpResponse:
    messages.success(
        request,
        _(
            "Your request (%(kind)s) has been sent to the federal office. You will get an e-mail when it is decided."
        )
        % {"kind": change_request.get_kind_display()},
    )
    if change_request.member_id:
        return redirect("members:member_detail", pk=change_request.member_id)
    return redirect("members:request_list")


@login_required
@require_http_methods(["GET", "POST"])
def request_entry(request: HttpRequest, pk: int) -> HttpResponse:
    division = get_visible_or_404(request.user, Division, Action.REQUEST_CHANGE, pk=pk)
    form = EntryForm(
        request.POST or None, divisions=queries.request_divisions(request.user, division)
    )
    if form.is_valid():
        try:
            change_request = services.submit_change_request(
                by=request.user,
                kind=RequestKind.ENTRY,
                division=form.cleaned_data["division"],
                values=form.proposed(),
                effective_on=form.cleaned_data["joined_on"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _submitted(request, change_request)
    return render(
        request,
        "members/request_form.html",
        {
            "form": form,
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "kind": RequestKind.ENTRY,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_for_member(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    member = get_visible_or_404(request.user, Member, Action.REQUEST_CHANGE, pk=pk)
    access_log.note(request, AccessKind.PAGE, member=member, detail=f"request {kind}")
    try:
        kind = RequestKind(kind)
        form_class = MEMBER_FORMS[kind]
    except (ValueError, KeyError) as error:
        raise Http404 from error
    if form_class is ContactForm:
        # A copy: validating the form writes the proposed values onto its instance.
        form = form_class(request.POST or None, instance=copy.copy(member))
    elif form_class is MandateRequestForm:
        if mandate_policy() is None:
            raise Http404
        form = form_class(request.POST or None, member=member)
    else:
        form = form_class(request.POST or None)
    if form.is_valid():
        try:
            change_request = services.submit_change_request(
                by=request.user,
                kind=kind,
                member=member,
                values=form.proposed(),
                target_division=form.cleaned_data.get("target_division"),
                effective_on=form.cleaned_data.get("effective_on"),
                note=form.cleaned_data.get("note", ""),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _submitted(request, change_request)
    return render(
        request,
        "members/request_form.html",
        {
            "form": form,
            "member": member,
            "division": member.division,
            "ancestors": queries.visible_ancestors(request.user, member.division),
            "kind": kind,
        },
    )


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or RequestStatus.OPEN
    requests = (
        ChangeRequest.objects.visible_to(request.user)
        .select_related("member", "division", "target_division", "requested_by")
        .order_by("-requested_at", "-pk")
    )
    if status in RequestStatus.values:
        requests = requests.filter(status=status)
    incoming = (
        access.scope_by_division(
            ChangeRequest.objects.open(),
            request.user,
            Action.REQUEST_CHANGE,
            field="target_division",
        )
        .filter(kind=RequestKind.TRANSFER, consented_at__isnull=True)
        .select_related("member", "division", "target_division")
    )
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    access_log.note(
        request, AccessKind.LIST, count=page.paginator.count, detail=f"change requests {status}"
    )
    return render(
        request,
        "members/request_list.html",
        {
            "page_obj": page,
            "status": status,
            "statuses": RequestStatus.choices,
            "incoming": incoming[:100],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_consent(request: HttpRequest, pk: int) -> HttpResponse:
    receivable = access.scope_by_division(
        ChangeRequest.objects.open().filter(kind=RequestKind.TRANSFER, consented_at__isnull=True),
        request.user,
        Action.REQUEST_CHANGE,
        field="target_division",
    )
    change_request = get_object_or_404(
        receivable.select_related("member", "target_division"), pk=pk
    )
    access_log.note(request, AccessKind.PAGE, member=change_request.member, detail="consent")
    if request.method == "POST":
        services.consent_to_transfer(request=change_request, by=request.user)
        messages.success(request, _("You have agreed to the transfer."))
        return redirect("members:request_list")
    return render(request, "members/request_consent.html", {"change_request": change_request})
