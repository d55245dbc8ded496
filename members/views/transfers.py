"""Spreadsheet import (upload, mapping, preview, submit) and member-list export."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from members import access, access_log, exports, imports, queries
from members.access import Action, get_visible_or_404
from members.forms import MemberFilterForm
from members.models import AccessKind, Division, ImportBatch, Member
from ops import dispatch

PREVIEW_ROWS = 200


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy(
            "An Excel workbook (.xlsx or .xls), a LibreOffice sheet (.ods) or a CSV file, at "
            "most 10 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.ods,.csv,text/csv"}),
    )


class ExportForm(forms.Form):
    purpose = forms.CharField(
        label=gettext_lazy("Purpose"),
        max_length=300,
        help_text=gettext_lazy("Why do you need this list? It is logged with the export."),
    )
    file_format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[("xlsx", "Excel (.xlsx)"), ("csv", "CSV")],
        initial="xlsx",
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest, pk: int) -> HttpResponse:
    division = get_visible_or_404(request.user, Division, Action.REQUEST_CHANGE, pk=pk)
    form = UploadForm(request.POST or None, request.FILES or None)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            form.add_error("file", _("The file is larger than 10 MB."))
        else:
            with transaction.atomic():
                batch = imports.create_batch(
                    by=request.user, division=division, content=upload.read(), filename=upload.name
                )
                imports.start_check(batch=batch, by=request.user)
            return redirect("members:import_detail", pk=batch.pk)
    return render(
        request,
        "members/import_new.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "form": form,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible_or_404(request.user, ImportBatch, Action.REQUEST_CHANGE, pk=pk)
    if request.method == "POST" and batch.uploaded_by_id != request.user.pk:
        messages.error(request, _("Only the person who uploaded the file can change it."))
        return redirect("members:import_detail", pk=batch.pk)
    if request.method == "POST" and batch.status == ImportBatch.Status.CHECKED:
        mapping = {
            str(index): request.POST.get(f"column-{index}", "")
            for index in range(len(batch.header))
            if request.POST.get(f"column-{index}", "") in ("", *imports.FIELDS)
        }
        with transaction.atomic():
            imports.start_check(batch=batch, by=request.user, mapping=mapping)
        return redirect("members:import_detail", pk=batch.pk)
    if request.htmx and not request.htmx.history_restore_request and batch.is_busy:
        return _progress(request, batch)
    report = batch.report or []
    findings = batch.findings or {}
    access_log.note(
        request, AccessKind.LIST, count=batch.total_rows, detail=f"import {batch.filename}"
    )
    return render(
        request,
        "members/import_detail.html",
        {
            "batch": batch,
            "division": batch.division,
            "ancestors": queries.visible_ancestors(request.user, batch.division),
            "columns": [
                (index, title, batch.mapping.get(str(index), ""))
                for index, title in enumerate(batch.header)
            ],
            "labels": imports.field_labels(),
            "problems": [r for r in report if r["errors"]][:PREVIEW_ROWS],
            "changes": [r for r in report if r["status"] == "changed"][:PREVIEW_ROWS],
            "unknown": [r for r in report if r["status"] == "unknown"][:PREVIEW_ROWS],
            "taken": batch.new
            + batch.changed
            + (
                sum(1 for r in report if r["status"] == "unknown" and r.get("proposable", True))
                if (batch.choices or {}).get("propose_unknown")
                else 0
            ),
            "skipped": [r for r in report if r["status"] == "skipped"][:PREVIEW_ROWS],
            "warned": [
                r
                for r in report
                if r.get("warnings") and r["status"] not in ("skipped", "unknown", "error")
            ][:PREVIEW_ROWS],
            "value_fields": _value_fields(batch, findings),
            "date_questions": [
                (name, imports.field_labels().get(name, name), question)
                for name, question in findings.get("dates", {}).items()
            ],
            "open_values": any(
                not item["choice"]
                for items in findings.get("values", {}).values()
                for item in items
            )
            or any(
                (question["partial"] and not question["fill"])
                or (question["ambiguous"] and not question["order"])
                for question in findings.get("dates", {}).values()
            ),
            "division_options": _division_options(batch, findings),
            "progress": imports.progress_of(batch),
            "direct": access.has_global_access(batch.uploaded_by),
            "is_uploader": batch.uploaded_by_id == request.user.pk,
        },
    )


def _value_fields(batch: ImportBatch, findings: dict) -> list[dict]:
    """The value step's tables: per column with a fixed vocabulary, its distinct values,
    what each was matched to, and the choices (none for divisions: typed, with a list)."""
    if not findings.get("values"):
        return []
    vocabularies = imports.vocabularies(batch.division, _importer(batch))
    labels = imports.field_labels()
    fields = []
    for name, items in findings["values"].items():
        vocabulary = vocabularies[name]
        typed = name in ("division", "state")
        fields.append(
            {
                "name": name,
                "label": labels.get(name, name),
                "items": items,
                "typed": typed,
                "choices": [] if typed else vocabulary.choices(),
            }
        )
    return fields


def _division_options(batch: ImportBatch, findings: dict) -> list[str]:
    names = set(findings.get("values", {})) & {"division", "state"}
    if not names:
        return []
    vocabulary = imports.vocabularies(batch.division, _importer(batch))["division"]
    return [label for _pk, label in vocabulary.choices()]


def _importer(batch: ImportBatch) -> Any:
    """The user whose area bounds the import's values (None: the federal office's)."""
    return None if access.has_global_access(batch.uploaded_by) else batch.uploaded_by


@login_required
def import_values(request: HttpRequest, pk: int) -> HttpResponse:
    """The value step: what each listed value means, how date columns are read."""
    batch = get_visible_or_404(request.user, ImportBatch, Action.REQUEST_CHANGE, pk=pk)
    if request.method != "POST" or batch.status != ImportBatch.Status.CHECKED:
        return redirect("members:import_detail", pk=batch.pk)
    if batch.uploaded_by_id != request.user.pk:
        messages.error(request, _("Only the person who uploaded the file can change it."))
        return redirect("members:import_detail", pk=batch.pk)
    findings = batch.findings or {}
    vocabularies = imports.vocabularies(batch.division, _importer(batch))
    values: dict[str, dict[str, str]] = {}
    problems = []
    for name, items in findings.get("values", {}).items():
        vocabulary = vocabularies[name]
        for position, item in enumerate(items):
            given = request.POST.get(f"value-{name}-{position}", "").strip()
            if request.POST.get(f"key-{name}-{position}") != item["key"]:
                continue  # the form is older than the check: leave this value alone
            if name in ("division", "state") and given and given != imports.EMPTY:
                choice = vocabulary.find(given)
                if choice is None:
                    problems.append(item["text"])
                    continue
            else:
                choice = given if given == imports.EMPTY or vocabulary.valid(given) else ""
            if choice and choice != item["choice"]:  # what was in effect changes
                values.setdefault(name, {})[item["key"]] = choice
    dates = {}
    for name in findings.get("dates", {}):
        decided = {}
        order = request.POST.get(f"date-order-{name}", "")
        fill = request.POST.get(f"date-partial-{name}", "")
        if order in ("dmy", "mdy"):
            decided["order"] = order
        if fill in ("first", "refuse"):
            decided["partial"] = fill
        if decided:
            dates[name] = decided
    if problems:
        messages.error(
            request,
            _("No division of your area is called %s: type its code or pick it from the list.")
            % ", ".join(f"“{p}”" for p in problems),
        )
    with transaction.atomic():
        imports.decide_values(batch=batch, by=request.user, values=values, dates=dates)
    return redirect("members:import_detail", pk=batch.pk)


def _progress(request: HttpRequest, batch: ImportBatch) -> HttpResponse:
    progress = imports.progress_of(batch)
    return render(
        request,
        "members/_import_progress.html",
        {"batch": batch, "progress": progress, "waiting": not dispatch.broker_reachable()},
    )


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible_or_404(request.user, ImportBatch, Action.REQUEST_CHANGE, pk=pk)
    if not batch.is_busy:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"  # done: show the result
        return response
    return _progress(request, batch)


@login_required
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible_or_404(
        request.user, ImportBatch, Action.REQUEST_CHANGE, pk=pk, status=ImportBatch.Status.CHECKED
    )
    if not batch.report:
        raise Http404
    content = imports.error_workbook(batch)
    access_log.note(
        request, AccessKind.LIST, count=len(batch.report), detail=f"import errors {batch.filename}"
    )
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="fehler-{batch.pk}.xlsx"'
    return response


@login_required
def import_apply(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible_or_404(request.user, ImportBatch, Action.REQUEST_CHANGE, pk=pk)
    if request.method != "POST":
        return redirect("members:import_detail", pk=batch.pk)
    if batch.uploaded_by_id != request.user.pk:
        messages.error(request, _("Only the person who uploaded the file can submit it."))
    elif not imports.start_apply(
        batch=batch,
        by=request.user,
        checked_at=request.POST.get("checked_at", ""),
        propose_unknown=request.POST.get("propose_unknown") == "1",
    ):
        messages.error(
            request,
            _(
                "This import cannot be applied: it has errors, was applied already, or was "
                "checked again since you saw the preview. Look at the preview again."
            ),
        )
    return redirect("members:import_detail", pk=batch.pk)


@login_required
def import_discard(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_visible_or_404(request.user, ImportBatch, Action.REQUEST_CHANGE, pk=pk)
    if request.method != "POST":
        return redirect("members:import_detail", pk=batch.pk)
    if batch.uploaded_by_id != request.user.pk:
        messages.error(request, _("Only the person who uploaded the file can change it."))
        return redirect("members:import_detail", pk=batch.pk)
    imports.discard_batch(batch=batch, by=request.user)
    messages.success(request, _("The import has been discarded."))
    return redirect("members:member_list", pk=batch.division_id)


@login_required
@require_http_methods(["GET", "POST"])
def member_export(request: HttpRequest, pk: int) -> HttpResponse:
    """A filtered member list as .xlsx or .csv; the purpose is stated and logged."""
    division = get_visible_or_404(request.user, Division, Action.EXPORT_MEMBERS, pk=pk)
    finance = access.can(request.user, Action.VIEW_FINANCE, division)
    filters = MemberFilterForm(request.GET, user=request.user, within=division, finance=finance)
    members = filters.filter(
        Member.objects.visible_to(request.user, Action.EXPORT_MEMBERS).in_subtree(division)
    )
    form = ExportForm(request.POST or None)
    if filters.is_bound and filters.errors:
        # Never export more than was asked for: a broken filter stops the export.
        form.add_error(
            None, _("The filter of the list is not valid any more; set it again on the list.")
        )
    if form.is_valid():
        log = exports.log_export(
            by=request.user,
            division=division,
            purpose=form.cleaned_data["purpose"],
            filters={k: v for k, v in request.GET.items() if k != "page"},
            file_format=form.cleaned_data["file_format"],
            rows=0,  # counted from the members in it
            member_ids=members.values_list("pk", flat=True).order_by(),
        )
        stamp = timezone.localdate().isoformat()
        if log.file_format == "csv":
            response = StreamingHttpResponse(
                exports.csv_lines(members, finance=finance), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="mitglieder-{division.code}-{stamp}.csv"'
            )
            return response
        handle, _count = exports.xlsx_file(members, finance=finance)
        return FileResponse(
            handle, as_attachment=True, filename=f"mitglieder-{division.code}-{stamp}.xlsx"
        )
    return render(
        request,
        "members/member_export.html",
        {
            "division": division,
            "ancestors": queries.visible_ancestors(request.user, division),
            "form": form,
            "count": members.count(),
            "query": request.GET.urlencode(),
        },
    )
