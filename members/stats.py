"""Membership figures for a division's subtree: now, recent windows, the last 24 months.

Figures come from the membership periods (business dates), so they also answer "how many
members did this division have on date X". A handful of grouped queries, whatever the size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr, TruncMonth

from members.models import (
    TRANSFER_OUT,
    Division,
    Member,
    MembershipPeriod,
    MemberStatus,
    PeriodStart,
)

WINDOWS = (14, 30, 90, 365)
MONTHS = 24


def members_on(division: Division, day: date) -> int:
    """How many members the division and everything below it had on `day`."""
    return (
        MembershipPeriod.objects.filter(
            division__path__startswith=division.path, started_on__lte=day
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=day))
        .count()
    )


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """First days of the last `months` months, oldest first, the current month last."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


@dataclass
class Series:
    """Members at the end of each month (today for the current one), entries and exits."""

    months: list[date]
    members: list[int]
    entries: list[int]
    exits: list[int]


@dataclass
class Figures:
    division: Division
    active: int = 0
    pending: int = 0
    entries: dict[int, int] = field(default_factory=dict)
    exits: dict[int, int] = field(default_factory=dict)
    series: Series | None = None

    @property
    def members(self) -> int:
        return self.active + self.pending


def _key_length(division: Division) -> int:
    return len(division.path) + Division.steplen


def division_figures(division: Division, today: date) -> tuple[Figures, list[Figures]]:
    """Figures for the division and for each of its direct sub-divisions.

    Rows are grouped by division id (index-only work, no join) and folded into the
    sub-divisions here, through the subtree's paths.
    """
    subtree = dict(
        Division.objects.filter(path__startswith=division.path).values_list("pk", "path")
    )
    children = list(Division.objects.get_children(division).order_by("name"))
    by_prefix = {child.path: Figures(child) for child in children}
    total = Figures(division)
    length = _key_length(division)
    # Members directly in the division count for it only, not for a child.
    targets = {
        pk: [total, by_prefix[path[:length]]] if path[:length] in by_prefix else [total]
        for pk, path in subtree.items()
    }
    ids = list(subtree)

    current = (
        Member.objects.filter(division_id__in=ids)
        .exclude(status=MemberStatus.ENDED)
        .values("division_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in current:
        for figures in targets[row["division_id"]]:
            if row["status"] == MemberStatus.ACTIVE:
                figures.active += row["n"]
            else:
                figures.pending += row["n"]

    months = month_starts(today)
    month_index = {month: i for i, month in enumerate(months)}
    everyone = [total, *by_prefix.values()]
    slot = {id(figures): i for i, figures in enumerate(everyone)}
    # Per figures: starts and ends per month (all kinds), entries and exits per month.
    starts = [[0] * len(months) for _ in everyone]
    ends = [[0] * len(months) for _ in everyone]
    entries = [[0] * len(months) for _ in everyone]
    exits = [[0] * len(months) for _ in everyone]
    # Periods are many: grouped in the database by the sub-division they fall under.
    prefix_slots = {child.path: [0, slot[id(by_prefix[child.path])]] for child in children}
    periods = MembershipPeriod.objects.filter(division__path__startswith=division.path).annotate(
        prefix=Substr("division__path", 1, length)
    )
    for prefix, kind, month, n in _monthly(periods, "started_on", "start_kind", months[0], today):
        i = month_index[month]
        for s in prefix_slots.get(prefix, [0]):
            starts[s][i] += n
            if kind == PeriodStart.ENTRY:
                entries[s][i] += n
    for prefix, kind, month, n in _monthly(periods, "ended_on", "end_kind", months[0], today):
        i = month_index[month]
        for s in prefix_slots.get(prefix, [0]):
            ends[s][i] += n
            if kind != TRANSFER_OUT:
                exits[s][i] += n

    windows_in = [dict.fromkeys(WINDOWS, 0) for _ in everyone]
    windows_out = [dict.fromkeys(WINDOWS, 0) for _ in everyone]
    for direction, prefix, counts in _windows(periods, today):
        for s in prefix_slots.get(prefix, [0]):
            bucket = windows_in[s] if direction == "in" else windows_out[s]
            for days in WINDOWS:
                bucket[days] += counts[days]

    for s, figures in enumerate(everyone):
        figures.entries = windows_in[s]
        figures.exits = windows_out[s]
        figures.series = _series(figures.members, months, starts[s], ends[s], entries[s], exits[s])
    return total, [by_prefix[child.path] for child in children]


def _monthly(
    qs: QuerySet[MembershipPeriod], date_field: str, kind_field: str, since: date, today: date
) -> list[tuple[str, str, date, int]]:
    rows = (
        qs.filter(**{f"{date_field}__gte": since, f"{date_field}__lte": today})
        .annotate(month=TruncMonth(date_field))
        .values_list("prefix", kind_field, "month")
        .annotate(n=Count("*"))
        .order_by()
    )
    return [(d, k, m.date() if hasattr(m, "date") else m, n) for d, k, m, n in rows]


def _windows(qs: QuerySet[MembershipPeriod], today: date) -> list[tuple[str, str, dict[int, int]]]:
    """Entries ("in") and exits ("out") in the last 14, 30, 90 and 365 days, per division."""
    result = []
    for direction, date_field, condition in (
        ("in", "started_on", Q(start_kind=PeriodStart.ENTRY)),
        ("out", "ended_on", ~Q(end_kind=TRANSFER_OUT)),
    ):
        counts = {
            f"w{days}": Count(
                "division_id", filter=Q(**{f"{date_field}__gt": today - timedelta(days=days)})
            )
            for days in WINDOWS
        }
        rows = (
            qs.filter(condition, **{f"{date_field}__gt": today - timedelta(days=max(WINDOWS))})
            .filter(**{f"{date_field}__lte": today})
            .values("prefix")
            .annotate(**counts)
            .order_by()
        )
        for row in rows:
            result.append((direction, row["prefix"], {d: row[f"w{d}"] for d in WINDOWS}))
    return result


def _series(
    members_now: int,
    months: list[date],
    starts: list[int],
    ends: list[int],
    entries: list[int],
    exits: list[int],
) -> Series:
    # Walk back from today: the members at the end of a month are today's, less what
    # started after it, plus what ended after it.
    members = []
    count = members_now
    for i in reversed(range(len(months))):
        members.append(count)
        count = count - starts[i] + ends[i]
    return Series(months=months, members=members[::-1], entries=entries, exits=exits)
