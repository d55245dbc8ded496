"""The federal office's data-protection pages: retention preview and confirmation, erasure on
request, the need-to-know report (state boards see theirs too)."""

from __future__ import annotations

import csv

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from members import access, exports
from members.access import Action, get_visible_or_404
from members.models import Division, Member
from members.spreadsheets import neutralise
from privacy import erasure, need_to_know, retention


def _federal(request: HttpRequest) -> None:
    if not access.has_global_access(request.user):
        raise Http404


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if access.has_global_access(request.user):
        return redirect("privacy:retention")
    if need_to_know.may_see_report(request.user):
        return redirect("privacy:need_to_know")
    raise Http404


class ConfirmForm(forms.Form):
    digest = forms.CharField(widget=forms.HiddenInput)
    on = forms.DateField(widget=forms.HiddenInput)


@login_required
@require_http_methods(["GET", "POST"])
def retention_view(request: HttpRequest) -> HttpResponse:
    """The dry run, and the button that carries it out exactly as shown."""
    _federal(request)
    today = timezone.localdate()
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        if form.is_valid() and form.cleaned_data["on"] == today:
            try:
                done = retention.apply(form.cleaned_data["digest"], by=request.user)
            except retention.PlanChanged:
                messages.warning(
                    request,
                    _(
                        "The register changed since the preview. Check the new preview and confirm again."
                    ),
                )
            else:
                messages.success(
                    request,
                    _(
                        "Done: %(told)s members told, %(anonymised)s anonymised, "
                        "%(finance)s finance records cleared of names, %(candidates)s "
                        "candidates deleted, %(deliveries)s mailing recipients and %(emails)s "
                        "sent e-mails removed, %(log)s access log entries deleted."
                    )
                    % {
                        "told": done.told,
                        "anonymised": done.anonymised,
                        "finance": done.finance,
                        "candidates": done.candidates,
                        "deliveries": done.deliveries,
                        "emails": done.emails,
                        "log": done.access_log,
                    },
                )
        else:
            messages.warning(request, _("The preview is out of date: check it again."))
        return redirect("privacy:retention")
    plan = retention.plan(today)
    return render(
        request,
        "privacy/retention.html",
        {
            "plan": plan,
            "rows": plan.rows(),
            "coming": sorted(plan.coming.items()),
            "waiting": sorted((k, v) for k, v in plan.waiting.items() if k != "letter"),
            "form": ConfirmForm(initial={"digest": plan.digest(), "on": today}),
            "letters": retention.letters().count(),
            "months": settings.MUSTERROLLE_RETENTION_MONTHS,
        },
    )


@login_required
def retention_letters(request: HttpRequest) -> HttpResponse:
    """Members to be told by letter (no e-mail address): name, address, date, as CSV."""
    _federal(request)
    members = retention.list_letters(timezone.localdate())
    exports.log_export(
        by=request.user,
        division=Division.objects.get(depth=1),
        purpose=str(_("Retention notices by letter")),
        filters={"report": "retention_letters"},
        file_format="csv",
        rows=0,
        member_ids=members.values_list("pk", flat=True).order_by(),
    )

    def lines():
        writer = csv.writer(exports.Echo(), delimiter=";")
        yield "\ufeff" + writer.writerow(
            [
                _("Membership number"),
                _("First name"),
                _("Last name"),
                _("Street and number"),
                _("Postal code"),
                _("City"),
                _("Country"),
                _("Left on"),
            ]
        )
        for m in members.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    m.membership_number,
                    neutralise(m.first_name),
                    neutralise(m.last_name),
                    neutralise(m.street),
                    m.postal_code,
                    neutralise(m.city),
                    m.country,
                    date_format(m.left_on, "d.m.Y") if m.left_on else "",
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        True, f"loeschhinweise-briefe-{timezone.localdate():%Y-%m-%d}.csv"
    )
    return response


@login_required
@require_http_methods(["POST"])
def retention_letters_posted(request: HttpRequest) -> HttpResponse:
    """The letters on the list went out: their notice period starts today."""
    _federal(request)
    if request.POST.get("checked"):
        count = retention.letters_posted(on=timezone.localdate(), by=request.user)
        messages.success(
            request,
            _("%(count)s letters recorded as posted today: the notice period runs from now.")
            % {"count": count},
        )
    return redirect("privacy:retention")


class ErasureForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail address of the person"))


@login_required
@require_http_methods(["GET", "POST"])
def erasure_view(request: HttpRequest) -> HttpResponse:
    """Erasure on request: look the address up (writes nothing), then confirm."""
    _federal(request)
    found = None
    form = ErasureForm(request.GET or None)
    if request.method == "POST":
        address = request.POST.get("email", "")
        try:
            done = erasure.erase(address, request.POST.get("digest", ""))
        except erasure.ErasureRefused:
            messages.warning(
                request, _("What is held changed since the preview, or may not be erased.")
            )
            return redirect(f"{request.path}?email={address}")
        messages.success(
            request,
            _("Erased: %(candidates)s candidate records, %(emails)s e-mails, %(account)s.")
            % {
                "candidates": len(done.candidates),
                "emails": done.emails,
                "account": _("the login account") if done.account else _("no login account"),
            },
        )
        return redirect("privacy:erasure")
    if form.is_valid():
        found = erasure.find(form.cleaned_data["email"])
    return render(request, "privacy/erasure.html", {"form": form, "found": found})


@login_required
def need_to_know_view(request: HttpRequest) -> HttpResponse:
    if not need_to_know.may_see_report(request.user):
        raise Http404
    divisions = need_to_know.report_divisions(request.user).order_by("path")
    member = None
    number = (request.GET.get("number") or "").strip()
    if number.isdigit():
        member = (
            Member.objects.visible_to(request.user, Action.VIEW_MEMBERS)
            .filter(membership_number=int(number), division__in=divisions)
            .select_related("division")
            .first()
        )
        if member is None:
            messages.warning(request, _("No member with this number in your area."))
    rows = need_to_know.for_divisions(list(divisions))
    only_warnings = request.GET.get("warnings") == "1"
    if only_warnings:
        rows = [r for r in rows if r.too_many]
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/need_to_know.html",
        {
            "page_obj": page,
            "limit": settings.MUSTERROLLE_NEED_TO_KNOW_LIMIT,
            "warnings": sum(1 for r in rows if r.too_many) if only_warnings else None,
            "only_warnings": only_warnings,
            "member": member,
            "member_access": need_to_know.for_division(member.division) if member else None,
            "number": number,
        },
    )


@login_required
def need_to_know_division(request: HttpRequest, pk: int) -> HttpResponse:
    if not need_to_know.may_see_report(request.user):
        raise Http404
    division = get_visible_or_404(request.user, Division, Action.VIEW_DIVISION, pk=pk)
    if not need_to_know.report_divisions(request.user).filter(pk=division.pk).exists():
        raise Http404
    return render(
        request,
        "privacy/need_to_know_division.html",
        {
            "row": need_to_know.for_division(division),
            "limit": settings.MUSTERROLLE_NEED_TO_KNOW_LIMIT,
        },
    )
