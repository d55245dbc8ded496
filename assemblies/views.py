"""The boards' assembly pages: the assembly, its list of who may vote, and what changed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from assemblies import checkin, invitations, postal, printing, seats, services
from assemblies.forms import AssemblyForm, SeatsForm
from assemblies.models import Assembly, Ballot, Entry, Reason
from members import access, access_log, exports
from members.access import Action, get_visible_or_404
from members.models import AccessKind, Division, Member

PAGE_SIZE = 50


def _assembly(request: HttpRequest, pk: int) -> Assembly:
    return get_visible_or_404(request.user, Assembly, Action.MANAGE_ASSEMBLIES, pk=pk)


def _divisions(request: HttpRequest):  # type: ignore[no-untyped-def]
    return access.divisions_visible_to(request.user, Action.MANAGE_ASSEMBLIES)


@login_required
def assembly_list(request: HttpRequest) -> HttpResponse:
    assemblies = (
        Assembly.objects.visible_to(request.user, Action.MANAGE_ASSEMBLIES)
        .select_related("division")
        .order_by("-starts_at", "-pk")
    )
    page = Paginator(assemblies, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "assemblies/assembly_list.html",
        {"page_obj": page, "may_create": _divisions(request).exists()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def assembly_new(request: HttpRequest) -> HttpResponse:
    divisions = _divisions(request)
    if not divisions.exists():
        return render(request, "403.html", status=403)
    form = AssemblyForm(request.POST or None, divisions=divisions)
    if form.is_valid():
        assembly = services.create_assembly(by=request.user, values=form.cleaned_data)
        messages.success(
            request, _("Assembly created. Freeze its list when the invitation is due.")
        )
        return redirect("assemblies:assembly_detail", pk=assembly.pk)
    return render(request, "assemblies/assembly_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def assembly_edit(request: HttpRequest, pk: int) -> HttpResponse:
    assembly = _assembly(request, pk)
    form = AssemblyForm(request.POST or None, instance=assembly, divisions=_divisions(request))
    if request.method == "POST" and form.is_valid():
        # The form wrote its values onto the instance; the service compares them with the
        # stored ones for the audit entry.
        values = dict(form.cleaned_data)
        assembly.refresh_from_db()
        try:
            services.update_assembly(by=request.user, assembly=assembly, values=values)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Assembly saved."))
            return redirect("assemblies:assembly_detail", pk=assembly.pk)
    return render(request, "assemblies/assembly_form.html", {"form": form, "assembly": assembly})


@login_required
def assembly_detail(request: HttpRequest, pk: int) -> HttpResponse:
    assembly = _assembly(request, pk)
    today = timezone.localdate()
    return render(
        request,
        "assemblies/assembly_detail.html",
        {
            "assembly": assembly,
            "counts": services.counts(assembly) if assembly.frozen_at else None,
            "deadline_missed": assembly.invited_at is None and assembly.invitation_deadline < today,
            "days_left": (assembly.invitation_deadline - today).days,
        },
    )


@login_required
def assembly_freeze(request: HttpRequest, pk: int) -> HttpResponse:
    assembly = _assembly(request, pk)
    if request.method != "POST":
        return redirect("assemblies:assembly_detail", pk=assembly.pk)
    again = assembly.frozen_at is not None
    count = services.freeze(assembly=assembly, by=request.user)
    if again:
        messages.success(
            request,
            _("The list was computed anew and frozen again (%(count)s members).")
            % {"count": count},
        )
    else:
        messages.success(request, _("The list is frozen (%(count)s members).") % {"count": count})
    return redirect("assemblies:assembly_detail", pk=assembly.pk)


@login_required
def assembly_entries(request: HttpRequest, pk: int) -> HttpResponse:
    """The frozen list, eligible or not (and why), by sub-division, searchable by name."""
    assembly = _assembly(request, pk)
    show, division, query, entries = _filtered(request, assembly)
    entries = entries.order_by("member__last_name", "member__first_name", "member_id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    access_log.note(
        request,
        AccessKind.LIST,
        count=page.paginator.count,
        detail=f"{assembly.title} {request.GET.urlencode()}".strip(),
    )
    return render(
        request,
        "assemblies/assembly_entries.html",
        {
            "assembly": assembly,
            "page_obj": page,
            "show": show,
            "query": query,
            "subdivisions": Division.objects.get_children(assembly.division).order_by("name"),
            "print_parts": range(1, -(-page.paginator.count // printing.PART_ROWS) + 1),
            "division": division or "",
        },
    )


def _filtered(request: HttpRequest, assembly: Assembly) -> tuple[str, str, str, Any]:
    """The list as the page filters it: eligible or not, a sub-division, a name or number."""
    show = request.GET.get("show", "eligible")
    entries = Entry.objects.filter(assembly=assembly).select_related("member", "division")
    entries = entries.filter(reason="") if show == "eligible" else entries.exclude(reason="")
    division = request.GET.get("division") or ""
    if division.isdigit():
        sub = Division.objects.filter(
            path__startswith=assembly.division.path, depth__gt=assembly.division.depth, pk=division
        ).first()
        if sub is not None:
            entries = entries.filter(division__path__startswith=sub.path)
    query = (request.GET.get("q") or "").strip()[:100]
    if query.isdigit():
        entries = entries.filter(member__membership_number=int(query))
    else:
        for word in query.lower().split():
            entries = entries.filter(member__search_text__contains=word)
    return show, division, query, entries


@login_required
def assembly_changes(request: HttpRequest, pk: int) -> HttpResponse:
    """What is different now from the frozen list, with the re-freeze."""
    assembly = _assembly(request, pk)
    changes, total = services.changes(assembly) if assembly.frozen_at else ([], 0)
    return render(
        request,
        "assemblies/assembly_changes.html",
        {"assembly": assembly, "changes": changes, "total": total},
    )


@login_required
def assembly_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The frozen list as .xlsx: one row per member, eligible or with the reason."""
    assembly = _assembly(request, pk)
    labels = {k: str(v) for k, v in Reason.choices}
    rows = (
        Entry.objects.filter(assembly=assembly)
        .order_by("division__path", "member__last_name", "member__first_name", "member_id")
        .values_list(
            "member__membership_number",
            "member__last_name",
            "member__first_name",
            "division__name",
            "reason",
            "owed",
            "since",
        )
    )
    return _workbook(
        request,
        assembly,
        sheet=_("Voting rights"),
        header=[
            _("Membership number"),
            _("Last name"),
            _("First name"),
            _("Division"),
            _("Eligible"),
            _("Reason"),
            _("Owed (€)"),
            _("Since"),
        ],
        rows=(
            [
                number,
                last,
                first,
                division,
                _("yes") if reason == "" else _("no"),
                labels[reason] if reason else "",
                owed,
                since,
            ]
            for number, last, first, division, reason, owed, since in rows.iterator(5000)
        ),
        purpose=_("Voting rights list of %(title)s") % {"title": assembly.title},
        filename=f"stimmrecht-{assembly.pk}-{assembly.cutoff_on:%Y%m%d}.xlsx",
        member_ids=rows.values_list("member_id", flat=True),
    )


def _workbook(
    request: HttpRequest,
    assembly: Assembly,
    *,
    sheet: str,
    header: list[str],
    rows: Iterable[list[Any]],
    purpose: str,
    filename: str,
    member_ids: Iterable[int],
) -> HttpResponse:
    """Rows into a workbook written row by row into a temporary file (dates as dates, texts
    never as formulas), on the export log before the file leaves."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(str(sheet))
    worksheet.append([str(label) for label in header])
    count = 0
    for row in rows:
        count += 1
        cells = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=value)
            if isinstance(value, date):
                cell.number_format = "DD.MM.YYYY"
            elif isinstance(value, str):
                cell.data_type = "s"
            cells.append(cell)
        worksheet.append(cells)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it
    workbook.save(handle)
    handle.seek(0)
    exports.log_export(
        by=request.user,
        division=assembly.division,
        purpose=purpose,
        filters={"assembly": str(assembly.pk)},
        file_format="xlsx",
        rows=count,
        member_ids=member_ids,
    )
    return FileResponse(handle, as_attachment=True, filename=filename)


@login_required
@require_http_methods(["GET", "POST"])
def assembly_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then freeze the list and send the invitation."""
    assembly = _assembly(request, pk)
    if request.method == "POST" and assembly.invited_at is None:
        try:
            invitations.invite(assembly=assembly, by=request.user)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(
                request,
                _(
                    "The list is frozen and the invitation is on its way. Print the letters "
                    "for those without an e-mail address."
                ),
            )
        return redirect("assemblies:assembly_detail", pk=assembly.pk)
    subject, body = invitations.texts(assembly)
    return render(
        request,
        "assemblies/assembly_invite.html",
        {
            "assembly": assembly,
            "subject": subject,
            "body": body,
            "late": assembly.invitation_deadline < timezone.localdate(),
        },
    )


@login_required
def assembly_letters(request: HttpRequest, pk: int) -> HttpResponse:
    """The invitation on paper, for the eligible members without a usable e-mail address."""
    assembly = _assembly(request, pk)
    if assembly.invited_at is None:
        messages.error(request, _("The letters are printed once the invitation has gone out."))
        return redirect("assemblies:assembly_detail", pk=assembly.pk)
    exports.log_export(
        by=request.user,
        division=assembly.division,
        purpose=_("Invitation letters of %(title)s") % {"title": assembly.title},
        filters={"assembly": str(assembly.pk)},
        file_format="pdf",
        rows=0,
        member_ids=invitations.by_letter(assembly, request.user).values_list("pk", flat=True),
    )
    pdf = invitations.letters_pdf(assembly, request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="einladung-{assembly.pk}-briefe.pdf"'
    return response


@login_required
def assembly_seats(request: HttpRequest, pk: int) -> HttpResponse:
    """Delegate seats per sub-division from the member counts at the cut-off, step by step;
    with ?format=xlsx the same as a workbook."""
    assembly = _assembly(request, pk)
    form = SeatsForm(request.GET or None)
    result = None
    counts, own = services.members_at_cutoff(assembly)
    if form.is_valid():
        try:
            result = seats.allocate(
                [(d.name, n) for d, n in counts],
                form.cleaned_data["seats"],
                form.cleaned_data["method"],
                minimum=form.cleaned_data["minimum"],
            )
        except ValueError:
            form.add_error("seats", _("Fewer seats than sub-divisions: not everyone can have one."))
    if result is not None and request.GET.get("format") == "xlsx":
        return _seats_workbook(assembly, result)
    return render(
        request,
        "assemblies/assembly_seats.html",
        {
            "assembly": assembly,
            "form": form,
            "result": result,
            "counts": counts,
            "own": own,
            "method_name": seats.METHODS.get(form.cleaned_data["method"]) if result else "",
        },
    )


def _seats_workbook(assembly: Assembly, result: seats.Result) -> HttpResponse:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(_("Seats"))
    sheet.append([assembly.title, str(seats.METHODS[result.method]), result.seats])
    sheet.append([_("Sub-division"), _("Members at the cut-off"), _("Seats")])
    for name, count, got in result.rows():
        sheet.append([name, count, got])
    if result.tied:
        sheet.append([_("Tie for the last seat, to be decided by lot:"), ", ".join(result.tied)])
    steps = workbook.create_sheet(str(_("Steps")))
    steps.append([_("Seat"), _("Sub-division"), _("Quotient or share"), _("Note")])
    for step in result.steps:
        steps.append([step.seat or "", step.name, float(step.value), step.note])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(
        handle, as_attachment=True, filename=f"delegierte-{assembly.pk}-{result.method}.xlsx"
    )


OUTCOME_MESSAGES = {
    postal.Outcome.RECORDED: (messages.SUCCESS, gettext_lazy("Envelope %(number)s recorded.")),
    postal.Outcome.LATE: (
        messages.WARNING,
        gettext_lazy(
            "Envelope %(number)s arrived after the deadline: recorded as late, not counted."
        ),
    ),
    postal.Outcome.ALREADY: (
        messages.INFO,
        gettext_lazy("Envelope %(number)s was recorded before; it counts once."),
    ),
    postal.Outcome.UNKNOWN: (
        messages.ERROR,
        gettext_lazy("There is no ballot %(number)s for this assembly."),
    ),
    postal.Outcome.MISTYPED: (
        messages.ERROR,
        gettext_lazy("%(number)s is not a ballot number (eight digits, the last a check digit)."),
    ),
}


@login_required
@require_http_methods(["GET", "POST"])
def assembly_postal(request: HttpRequest, pk: int) -> HttpResponse:
    """The postal vote: ballots for the eligible, the dispatch list, returned envelopes."""
    assembly = _assembly(request, pk)
    if request.method == "POST":
        if "create" in request.POST:
            try:
                added = postal.create_ballots(assembly=assembly, by=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, _("%(n)s ballots numbered.") % {"n": added})
        else:
            number = (request.POST.get("number") or "").strip()[:40]
            try:
                arrived_on = date.fromisoformat(request.POST.get("arrived_on") or "")
            except ValueError:
                arrived_on = timezone.localdate()
            arrived_on = min(arrived_on, timezone.localdate())
            outcome = postal.record_return(
                assembly=assembly, number=number, by=request.user, arrived_on=arrived_on
            )
            level, text = OUTCOME_MESSAGES[outcome]
            messages.add_message(request, level, text % {"number": number})
            # The next envelope of the same pile arrived the same day.
            url = reverse("assemblies:assembly_postal", args=[assembly.pk])
            return redirect(f"{url}?arrived_on={arrived_on.isoformat()}")
        return redirect("assemblies:assembly_postal", pk=assembly.pk)
    return render(
        request,
        "assemblies/assembly_postal.html",
        {
            "assembly": assembly,
            "counts": postal.counts(assembly),
            "today": timezone.localdate().isoformat(),
            "arrived_on": (request.GET.get("arrived_on") or "")[:10],
        },
    )


@login_required
def assembly_dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    """Who gets a ballot, where to, under which number (.xlsx, in postal-code order)."""
    assembly = _assembly(request, pk)
    reachable = access.scope_members(Member.objects.current(), request.user, Action.VIEW_MEMBERS)
    rows = (
        Ballot.objects.filter(assembly=assembly, member__in=reachable.values("pk"))
        .order_by("member__postal_code", "member__last_name", "member_id")
        .values_list(
            "number",
            "member__membership_number",
            "member__first_name",
            "member__last_name",
            "member__street",
            "member__postal_code",
            "member__city",
            "member__country",
        )
    )
    return _workbook(
        request,
        assembly,
        sheet=_("Postal ballots"),
        header=[
            _("Ballot number"),
            _("Membership number"),
            _("Name"),
            _("Street and number"),
            _("Postal code"),
            _("City"),
            _("Country"),
        ],
        rows=(
            [number, membership, f"{first} {last}".strip(), street, code, city, country]
            for number, membership, first, last, street, code, city, country in rows.iterator(2000)
        ),
        purpose=_("Postal vote dispatch of %(title)s") % {"title": assembly.title},
        filename=f"briefwahl-{assembly.pk}.xlsx",
        member_ids=rows.values_list("member_id", flat=True),
    )


@login_required
def assembly_checkin(request: HttpRequest, pk: int) -> HttpResponse:
    """The door: search by name or number, see eligibility, mark present; the count of
    eligible members present (for the quorum) updates itself."""
    assembly = _assembly(request, pk)
    if assembly.frozen_at is None:
        messages.error(request, _("Freeze the list first: the check-in works from it."))
        return redirect("assemblies:assembly_detail", pk=assembly.pk)
    query = (request.GET.get("q") or "").strip()[:100]
    entries = checkin.search(assembly, query) if query else []
    if query:
        access_log.note(
            request, AccessKind.LIST, count=len(entries), detail=f"{assembly.title} q={query}"
        )
    return render(
        request,
        "assemblies/assembly_checkin.html",
        {
            "assembly": assembly,
            "query": query,
            "entries": entries,
            "presence": checkin.presence(assembly),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def assembly_check_in(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    """One check-in (idempotent): JSON for the page's script, a redirect without it."""
    assembly = _assembly(request, pk)
    if request.method != "POST":
        return redirect("assemblies:assembly_checkin", pk=assembly.pk)
    try:
        entry, created = checkin.check_in(assembly=assembly, member_id=member_pk, by=request.user)
    except Entry.DoesNotExist as error:
        raise Http404 from error
    presence = checkin.presence(assembly)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(
            {
                "member": member_pk,
                "eligible": entry.reason == "",
                "created": created,
                "eligible_present": presence.eligible_present,
                "present": presence.present,
            }
        )
    name = f"{entry.member.first_name} {entry.member.last_name}"
    if entry.reason == "":
        messages.success(request, _("%(name)s is present and may vote.") % {"name": name})
    else:
        messages.warning(request, _("%(name)s is present but may not vote.") % {"name": name})
    return redirect(f"{reverse('assemblies:assembly_checkin', args=[assembly.pk])}")


@login_required
def assembly_presence(request: HttpRequest, pk: int) -> HttpResponse:
    assembly = _assembly(request, pk)
    presence = checkin.presence(assembly)
    return JsonResponse(
        {
            "eligible_present": presence.eligible_present,
            "present": presence.present,
            "eligible": presence.eligible,
        }
    )


@login_required
def assembly_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The list as shown (eligible or not, a sub-division) as a print-ready PDF."""
    assembly = _assembly(request, pk)
    show, division, query, entries = _filtered(request, assembly)
    entries = entries.order_by(
        "division__path", "member__last_name", "member__first_name", "member_id"
    )
    title = _("eligible") if show == "eligible" else _("not eligible")
    # In parts of a hundred pages: one PDF is built in memory, a federal list has thousands.
    total = entries.count()
    parts = max(1, -(-total // printing.PART_ROWS))
    part = request.GET.get("part", "1")
    part = min(max(int(part), 1), parts) if part.isdigit() else 1
    start = (part - 1) * printing.PART_ROWS
    entries = entries[start : start + printing.PART_ROWS]
    count = min(printing.PART_ROWS, total - start)
    exports.log_export(
        by=request.user,
        division=assembly.division,
        purpose=_("Voting rights list of %(title)s") % {"title": assembly.title},
        filters={
            "assembly": str(assembly.pk),
            "show": show,
            "division": division,
            "q": query,
            "part": f"{part}/{parts}",
        },
        file_format="pdf",
        rows=count,
        member_ids=entries.values_list("member_id", flat=True),
    )
    if parts > 1:
        title = f"{title} ({_('part %(n)s of %(of)s') % {'n': part, 'of': parts}})"
    pdf = printing.list_pdf(
        assembly,
        entries.iterator(chunk_size=2000),
        title=title,
        first_page=(part - 1) * printing.PART_ROWS // printing.ROWS + 1,
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"stimmrecht-{assembly.pk}-{show}" + (f"-teil{part}" if parts > 1 else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response
