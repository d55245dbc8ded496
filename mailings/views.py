"""Mailings for boards and mailing senders; the public unsubscribe page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailings import sending, services, tracking
from mailings.forms import AudienceForm, MailingForm
from mailings.models import Delivery, Mailing
from members import access, access_log
from members.access import Action, get_visible_or_404
from members.models import AccessKind, Division, FeeClass, Member, PaymentStatus
from ops import dispatch


def _count(**lookup: Any) -> Subquery:
    """Deliveries of the row's mailing that match (per row: only the page is counted)."""
    return Subquery(
        Delivery.objects.filter(mailing=OuterRef("pk"), **lookup)
        .order_by()
        .values("mailing")
        .annotate(n=Count("pk"))
        .values("n")
    )


def _finance(user: Any, division: Division) -> bool:
    return access.can(user, Action.VIEW_FINANCE, division)


@login_required
def mailing_list(request: HttpRequest) -> HttpResponse:
    mailings = (
        Mailing.objects.visible_to(request.user)
        .select_related("division", "created_by")
        .defer("body", "attachment")
        .annotate(
            sent=_count(sent_at__isnull=False),
            undelivered=_count(
                status__in=[
                    Delivery.Status.FAILED,
                    Delivery.Status.BOUNCED,
                    Delivery.Status.COMPLAINED,
                ]
            ),
        )
    )
    divisions = access.divisions_visible_to(request.user, Action.SEND_MAILING)
    return render(
        request,
        "mailings/mailing_list.html",
        {
            "page_obj": Paginator(mailings, 25).get_page(request.GET.get("page")),
            # The divisions a user writes for: the tops of their subtrees.
            "divisions": divisions.filter(
                path__in=access.root_paths(request.user, Action.SEND_MAILING)
            )
            if not access.has_global_access(request.user)
            else divisions.filter(depth__lte=2).order_by("path"),
            "can_see_members": bool(access.root_paths(request.user, Action.VIEW_MEMBERS))
            or access.has_global_access(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def mailing_new(request: HttpRequest, pk: int) -> HttpResponse:
    division = get_visible_or_404(request.user, Division, Action.SEND_MAILING, pk=pk)
    initial = {"sender_name": division.name, "reply_to": request.user.email}
    form = MailingForm(
        request.POST or None,
        request.FILES or None,
        division=division,
        finance=_finance(request.user, division),
        initial=initial,
        instance=Mailing(division=division),
    )
    if form.is_valid():
        try:
            mailing = services.create_mailing(
                by=request.user, division=division, values=form.values()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Mailing saved. Check the preview, then send it."))
            return redirect("mailings:mailing_detail", pk=mailing.pk)
    return _compose(request, form, division, None)


@login_required
@require_http_methods(["GET", "POST"])
def mailing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = get_visible_or_404(request.user, Mailing, Action.SEND_MAILING, pk=pk)
    if mailing.status not in (Mailing.Status.DRAFT, Mailing.Status.AWAITING_RELEASE):
        messages.error(request, _("A mailing that is being sent cannot be changed."))
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    form = MailingForm(
        request.POST or None,
        request.FILES or None,
        division=mailing.division,
        finance=_finance(request.user, mailing.division),
        instance=mailing,
    )
    if form.is_valid():
        try:
            services.update_mailing(by=request.user, mailing=mailing, values=form.values())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Mailing saved."))
            return redirect("mailings:mailing_detail", pk=mailing.pk)
    return _compose(request, form, mailing.division, mailing)


def _compose(
    request: HttpRequest, form: MailingForm, division: Division, mailing: Mailing | None
) -> HttpResponse:
    audience = mailing.audience if mailing else {}
    kind = mailing.kind if mailing else Mailing.Kind.NEWSLETTER
    if form.is_bound and form.is_valid():
        audience, kind = form.audience(), form.cleaned_data["kind"]
    counts = services.count_audience(division, kind, audience, request.user)
    return render(
        request,
        "mailings/mailing_form.html",
        {"form": form, "division": division, "mailing": mailing, "counts": counts},
    )


@login_required
def audience_count(request: HttpRequest, pk: int) -> HttpResponse:
    """The live count under the compose form (htmx)."""
    division = get_visible_or_404(request.user, Division, Action.SEND_MAILING, pk=pk)
    form = AudienceForm(request.GET, division=division, finance=_finance(request.user, division))
    if not form.is_valid():
        return HttpResponse(_("These filters are not valid."), status=400)
    data = form.cleaned_data
    audience = {
        "divisions": [d.pk for d in data["divisions"]],
        "payment_statuses": data.get("payment_statuses") or [],
        "fee_classes": data["fee_classes"],
    }
    counts = services.count_audience(
        division, data["kind"] or Mailing.Kind.OFFICIAL, audience, request.user
    )
    return render(request, "mailings/_audience_counts.html", {"counts": counts})


@login_required
def mailing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = get_visible_or_404(request.user, Mailing, Action.SEND_MAILING, pk=pk)
    can_see_members = access.can(request.user, Action.VIEW_MEMBERS, mailing.division)
    context: dict[str, Any] = {
        "mailing": mailing,
        "progress": _progress(mailing),
        "may_release": services.may_release(request.user, mailing),
        "release_required": services.release_required(mailing.division),
        "can_see_members": can_see_members,
        "audience_divisions": Division.objects.filter(
            pk__in=mailing.audience.get("divisions", [])
        ).order_by("path"),
        "audience_labels": [
            *(PaymentStatus(v).label for v in mailing.audience.get("payment_statuses", [])),
            *(FeeClass(v).label for v in mailing.audience.get("fee_classes", [])),
        ],
    }
    if mailing.status in (Mailing.Status.DRAFT, Mailing.Status.AWAITING_RELEASE):
        context["counts"] = services.count_audience(
            mailing.division, mailing.kind, mailing.audience, request.user
        )
    if can_see_members and mailing.status in (Mailing.Status.PAUSED, Mailing.Status.SENT):
        context["problems"] = (
            mailing.deliveries.filter(
                status__in=[
                    Delivery.Status.FAILED,
                    Delivery.Status.BOUNCED,
                    Delivery.Status.COMPLAINED,
                ]
            )
            .select_related("member")
            .order_by("pk")[:100]
        )
        access_log.note(
            request,
            AccessKind.LIST,
            count=len(context["problems"]),
            detail=f"mailing {mailing.pk}: not delivered",
        )
    return render(request, "mailings/mailing_detail.html", context)


def _progress(mailing: Mailing) -> dict[str, Any]:
    counts = services.progress(mailing)
    total = mailing.total or 0
    done = total - counts["queued"] - counts["sending"]
    return {
        "counts": counts,
        "total": total,
        "done": done,
        "percent": int(100 * done / total) if total else 100,
    }


@login_required
def mailing_progress(request: HttpRequest, pk: int) -> HttpResponse:
    # Polled every second: without the text and the attachment.
    mailing = get_object_or_404(
        Mailing.objects.visible_to(request.user).defer("body", "attachment"), pk=pk
    )
    return render(
        request,
        "mailings/_progress.html",
        {
            "mailing": mailing,
            "progress": _progress(mailing),
            "waiting": mailing.status == "sending" and not dispatch.broker_reachable(),
        },
    )


@login_required
def mailing_preview(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = get_visible_or_404(request.user, Mailing, Action.SEND_MAILING, pk=pk)
    message, recipient = _preview_message(request, mailing)
    return render(
        request,
        "mailings/mailing_preview.html",
        {
            "mailing": mailing,
            "message": message,
            "recipient": recipient,
            "as_member": recipient is not None,
            "can_see_members": access.can(request.user, Action.VIEW_MEMBERS, mailing.division),
        },
    )


def _preview_message(request: HttpRequest, mailing: Mailing) -> tuple[Any, Member | None]:
    """The mailing as the sample person gets it, or as its first real recipient."""
    rendered = sending.Rendered.of(mailing)
    recipient = None
    # A real member's data only for those who may see members (not a mailing sender).
    if request.GET.get("as") == "member" and access.can(
        request.user, Action.VIEW_MEMBERS, mailing.division
    ):
        recipient = (
            services.recipients(mailing.division, mailing.kind, mailing.audience, request.user)
            .select_related("division")
            .order_by("membership_number")
            .first()
        )
    personal = sending.personal_fields(recipient) if recipient else sending.SAMPLE
    unsubscribe = sending.sample_unsubscribe_url() if mailing.is_newsletter else ""
    message = rendered.message(
        to=recipient.email if recipient else "erika.musterfrau@example.org",
        personal=personal,
        unsubscribe=unsubscribe,
    )
    return message, recipient


@login_required
@xframe_options_sameorigin
@csp_override(
    {
        "default-src": [CSP.NONE],
        "style-src": [CSP.UNSAFE_INLINE],
        "frame-ancestors": [CSP.SELF],
    }
)
def mailing_preview_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The HTML part alone, for the preview's sandboxed frame: inline styles only, no scripts,
    no images, nothing loaded from anywhere."""
    mailing = get_visible_or_404(request.user, Mailing, Action.SEND_MAILING, pk=pk)
    message, _recipient = _preview_message(request, mailing)
    return HttpResponse(message.alternatives[0][0])


@login_required
@require_http_methods(["GET", "POST"])
def mailing_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = get_visible_or_404(request.user, Mailing, Action.SEND_MAILING, pk=pk)
    if request.method != "POST":
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    sending.test_send(mailing=mailing, to=request.user.email)
    messages.success(
        request, _("A test copy is on its way to %(email)s.") % {"email": request.user.email}
    )
    return redirect("mailings:mailing_detail", pk=mailing.pk)


@login_required
@require_http_methods(["GET", "POST"])
def mailing_send(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = get_visible_or_404(request.user, Mailing, Action.SEND_MAILING, pk=pk)
    if request.method == "POST":
        try:
            mailing = services.request_sending(by=request.user, mailing=mailing)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            if mailing.status == Mailing.Status.AWAITING_RELEASE:
                messages.info(request, _("A second board member must now release the mailing."))
            elif mailing.status == Mailing.Status.SENT:
                messages.success(request, _("Sent."))
            else:
                messages.success(request, _("Sending has started."))
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    if mailing.status != Mailing.Status.DRAFT:
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    return render(
        request,
        "mailings/mailing_send.html",
        {
            "mailing": mailing,
            "counts": services.count_audience(
                mailing.division, mailing.kind, mailing.audience, request.user
            ),
            "release_required": services.release_required(mailing.division),
        },
    )


def _action(request: HttpRequest, pk: int, action: Action, service: Any, done: str) -> HttpResponse:
    mailing = get_visible_or_404(request.user, Mailing, action, pk=pk)
    if request.method != "POST":  # actions are buttons; a typed-in address shows the mailing
        return redirect("mailings:mailing_detail", pk=mailing.pk)
    try:
        service(by=request.user, mailing=mailing)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("mailings:mailing_detail", pk=mailing.pk)


@login_required
@require_http_methods(["GET", "POST"])
def mailing_release(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request, pk, Action.RELEASE_MAILING, services.release_mailing, _("Released: sending.")
    )


@login_required
@require_http_methods(["GET", "POST"])
def mailing_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        Action.SEND_MAILING,
        services.withdraw_release_request,
        _("The mailing is a draft again."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def mailing_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, Action.SEND_MAILING, services.pause_mailing, _("Paused."))


@login_required
@require_http_methods(["GET", "POST"])
def mailing_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, Action.SEND_MAILING, services.resume_mailing, _("Sending again."))


@login_required
def mailing_excluded(request: HttpRequest, pk: int) -> HttpResponse:
    """Who the mailing cannot reach, so the board can fix addresses."""
    mailing = get_visible_or_404(request.user, Mailing, Action.VIEW_MEMBERS, pk=pk)
    without_email, suppressed = services.excluded_members(mailing, request.user)
    without_email = list(without_email.order_by("last_name", "first_name")[:500])
    suppressed = list(suppressed.order_by("last_name", "first_name")[:500])
    access_log.note(
        request,
        AccessKind.LIST,
        count=len(without_email) + len(suppressed),
        detail=f"mailing {mailing.pk}: not reached",
    )
    return render(
        request,
        "mailings/mailing_excluded.html",
        {"mailing": mailing, "without_email": without_email, "suppressed": suppressed},
    )


@login_required
def bounced(request: HttpRequest) -> HttpResponse:
    members = services.bounced_members(request.user).order_by("last_name", "first_name", "pk")
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    reasons = services.suppressions_for(page.object_list)
    rows = [(member, reasons.get(member.email.lower())) for member in page.object_list]
    access_log.note(request, AccessKind.LIST, count=page.paginator.count, detail="bounced")
    return render(request, "mailings/bounced.html", {"page_obj": page, "rows": rows})


# --- Public: unsubscribe ----------------------------------------------------------------


@csrf_exempt  # the signed link is the authorisation; mail programs post without a form
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, delivery: int, token: str) -> HttpResponse:
    found = (
        Delivery.objects.select_related("mailing__division")
        .filter(pk=delivery, mailing__kind=Mailing.Kind.NEWSLETTER)
        .first()
    )
    if found is None or not sending.token_matches(found, token):
        return render(request, "mailings/unsubscribe_invalid.html", status=404)
    if request.method == "POST":
        changed = tracking.unsubscribe(delivery=found)
        return render(
            request,
            "mailings/unsubscribe_done.html",
            {"mailing": found.mailing, "changed": changed},
        )
    if found.status == Delivery.Status.UNSUBSCRIBED:
        return render(
            request, "mailings/unsubscribe_done.html", {"mailing": found.mailing, "changed": False}
        )
    return render(request, "mailings/unsubscribe.html", {"mailing": found.mailing})


def unsubscribe_sample(request: HttpRequest) -> HttpResponse:
    return render(request, "mailings/unsubscribe_sample.html")
