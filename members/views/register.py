from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Window
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property

from members import access, access_log, queries
from members.access import Action, get_visible_or_404
from members.forms import MemberFilterForm
from members.models import AccessKind, Division, Member, RequestKind
from members.policy import mandate_policy

PAGE_SIZE = 50
# What a row of the list shows: fifty whole members would carry every address and note.
ROW_FIELDS = (
    "membership_number",
    "first_name",
    "last_name",
    "postal_code",
    "city",
    "status",
    "payment_status",
    "balance",
    "joined_on",
    "division__name",
)
# A filtered list counts its members up to here; past it the list says "more than".
COUNT_LIMIT = 1000


class CountedPaginator(Paginator):
    """Counts without reading the whole list: the number is given (from the register
    figures), or counted up to COUNT_LIMIT (a search for a common name in a state of a
    hundred thousand members finds thousands; nobody pages through them)."""

    def __init__(self, *args: Any, count: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.given_count = count
        self.limited = False

    @cached_property
    def count(self) -> int:
        if self.given_count is not None:
            return self.given_count
        found = (
            len(self.object_list)
            if isinstance(self.object_list, list)
            else self.object_list[: COUNT_LIMIT + 1].count()
        )
        self.limited = found > COUNT_LIMIT
        return min(found, COUNT_LIMIT)


class SearchMatches(Sequence[Member]):
    """A search's matching members in list order, read a page at a time: each page's query
    also counts all the matches (a window count), so a common name's thousand matches are
    sorted by the database and only the page's rows travel to Python. The page asked for is
    read first; a page past the end costs one more query for the last one."""

    def __init__(self, members: QuerySet[Member], page_size: int, page: str | None) -> None:
        # The divisions are joined to the page's rows only (a join before the sort would
        # look up the division of every match).
        fields = [name for name in ROW_FIELDS if not name.startswith("division__")]
        self.query = members.only(*fields, "division_id").annotate(matches=Window(Count("pk")))
        self.pages: dict[int, tuple[int, list[Member]]] = {}  # start -> (stop, rows)
        self.total: int | None = None
        try:
            number = min(max(int(page or 1), 1), 100_000)  # no offset past the database's
        except ValueError:
            number = 1
        self._read((number - 1) * page_size, number * page_size)
        if self.total is None:  # past the end (or nothing found): count from the start
            self._read(0, page_size)
        self.total = self.total or 0

    def _read(self, start: int, stop: int) -> list[Member]:
        rows = list(self.query[start:stop])
        if rows:
            self.total = rows[0].matches
            divisions = Division.objects.only("name").in_bulk({m.division_id for m in rows})
            for member in rows:
                member.division = divisions[member.division_id]
        self.pages[start] = (stop, rows)
        return rows

    def __len__(self) -> int:
        return self.total or 0

    @overload
    def __getitem__(self, index: int) -> Member: ...
    @overload
    def __getitem__(self, index: slice) -> list[Member]: ...
    def __getitem__(self, index: int | slice) -> Member | list[Member]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start = index.start or 0
        stop = len(self) if index.stop is None else index.stop
        read_stop, rows = self.pages.get(start, (-1, []))
        if stop <= read_stop:
            return rows[: stop - start]
        return self._read(start, stop)


@login_required
def member_list(request: HttpRequest, pk: int) -> HttpResponse:
    division = get_visible_or_404(request.user, Division, Action.VIEW_MEMBERS, pk=pk)
    # Always bound: no parameters at all is a valid filter too.
    finance = access.can(request.user, Action.VIEW_FINANCE, division)
    form = MemberFilterForm(request.GET, user=request.user, within=division, finance=finance)
    visible = Member.objects.visible_to(request.user)
    members = form.filter(visible.in_subtree(division))
    if form.searching:
        # A search finds and sorts all its matches in one pass anyway: the page's query
        # counts them too and reads the page's rows.
        matches = SearchMatches(members, PAGE_SIZE, request.GET.get("page"))
        paginator = CountedPaginator(matches, PAGE_SIZE, count=len(matches))
        page = paginator.get_page(request.GET.get("page"))
    else:
        # Page through ids (read from the indexes alone), then load this page's rows only.
        ids = members.values_list("pk", flat=True)
        paginator = CountedPaginator(ids, PAGE_SIZE, count=form.count_from_figures())
        page = paginator.get_page(request.GET.get("page"))
        page_ids = list(page.object_list)
        rows = (
            visible.filter(pk__in=page_ids).select_related("division").only(*ROW_FIELDS).in_bulk()
        )
        page.object_list = [rows[pk] for pk in page_ids]
    access_log.note(
        request,
        AccessKind.LIST,
        count=paginator.count,
        detail=f"{division.code} {request.GET.urlencode()}".strip(),
    )
    context = {
        "division": division,
        "ancestors": queries.visible_ancestors(request.user, division),
        "form": form,
        "page_obj": page,
        "sort": form.current_sort,
        "query": request.GET.copy(),
        "can_request": access.can(request.user, Action.REQUEST_CHANGE, division),
        "can_export": access.can(request.user, Action.EXPORT_MEMBERS, division),
        "can_finance": finance,
    }
    # A history restore (the browser's Back) wants the whole page, filters included.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "members/_member_results.html" if partial else "members/member_list.html"
    return render(request, template, context)


@login_required
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_visible_or_404(request.user, Member, Action.VIEW_MEMBERS, pk=pk)
    versions = list(member.versions.select_related("recorded_by").order_by("-version")[:50])
    access_log.note(request, AccessKind.PAGE, member=member)
    return render(
        request,
        "members/member_detail.html",
        {
            "member": member,
            "division": member.division,
            "ancestors": queries.visible_ancestors(request.user, member.division),
            "periods": member.periods.select_related("division").order_by("-started_on", "-pk"),
            "versions": versions,
            "division_names": queries.division_names_in(versions),
            "requests": member.change_requests.select_related("requested_by").order_by(
                "-requested_at"
            )[:50],
            "can_finance": access.can(request.user, Action.VIEW_FINANCE, member.division),
            "can_request": access.can(request.user, Action.REQUEST_CHANGE, member.division)
            and member.status != "ended",
            "kinds": [
                RequestKind.CONTACT,
                RequestKind.TRANSFER,
                RequestKind.FEE_CLASS,
                *([RequestKind.MANDATE] if mandate_policy() is not None else []),
                RequestKind.EXIT,
            ],
        },
    )


@login_required
def division_choices(request: HttpRequest) -> HttpResponse:
    """Matches for a division picker (members.forms.DivisionPicker), as radio buttons."""
    name = request.GET.get("field", "")
    if name not in PICKER_FIELDS:
        raise Http404
    within = None
    if request.GET.get("within"):
        within = get_visible_or_404(
            request.user, Division, Action.VIEW_MEMBERS, pk=_int(request.GET["within"])
        )
    term = request.GET.get("term", "")
    selected = _int(request.GET.get(name))
    choices, more = queries.division_choices(
        request.user, within=within, term=term, selected=selected
    )
    return render(
        request,
        "members/widgets/_division_choices.html",
        {
            "name": name,
            "choices": choices,
            "selected": selected,
            "allow_all": bool(request.GET.get("all")),
            "more": more,
            "term": term.strip(),
        },
    )


# The forms that use a division picker, by field name.
PICKER_FIELDS = {"division", "target_division"}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
