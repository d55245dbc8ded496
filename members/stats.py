"""Membership figures for a division's subtree: now, recent windows, the last 24 months.

Figures come from the membership periods (business dates), so they also answer "how many
members did this division have on date X". A handful of grouped queries, whatever the size.
"""

from __future__ import annotations

from collections import defaultdict
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
    """Figures for the division and for each of its direct sub-divisions."""
    children = list(Division.objects.get_children(division).order_by("name"))
    by_prefix = {child.path: Figures(child) for child in children}
    total = Figures(division)
    length = _key_length(division)

    def figures_for(prefix: str) -> list[Figures]:
        # Members directly in the division count for it only, not for a child.
        child = by_prefix.get(prefix)
        return [total, child] if child is not None else [total]

    current = (
        Member.objects.filter(division__path__startswith=division.path)
        .exclude(status=MemberStatus.ENDED)
        .annotate(prefix=Substr("division__path", 1, length))
        .values("prefix", "status")
        .annotate(n=Count("pk"))
    )
    for row in current:
        for figures in figures_for(row["prefix"]):
            if row["status"] == MemberStatus.ACTIVE:
                figures.active += row["n"]
            else:
                figures.pending += row["n"]

    months = month_starts(today)
    since = min(months[0], today - timedelta(days=max(WINDOWS)))
    periods = MembershipPeriod.objects.filter(division__path__startswith=division.path).annotate(
        prefix=Substr("division__path", 1, length)
    )
    flows: dict[str, dict[str, dict[date, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    window_counts: dict[str, dict[str, dict[int, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )

    starts = _grouped(
        periods.filter(started_on__gte=since, started_on__lte=today),
        "started_on",
        "start_kind",
        today,
    )
    ends = _grouped(
        periods.filter(ended_on__gte=since, ended_on__lte=today), "ended_on", "end_kind", today
    )
    for direction, rows in (("start", starts), ("end", ends)):
        for prefix, kind, month, windows in rows:
            for key in {prefix, "*"}:
                flows[key][f"{direction}:{kind}"][month] += windows["n"]
                for days in WINDOWS:
                    window_counts[key][f"{direction}:{kind}"][days] += windows[days]

    for key, figures in [("*", total), *by_prefix.items()]:
        figures.entries = {d: window_counts[key][f"start:{PeriodStart.ENTRY}"][d] for d in WINDOWS}
        figures.exits = {
            d: sum(
                v[d]
                for k, v in window_counts[key].items()
                if k.startswith("end:") and k != f"end:{TRANSFER_OUT}"
            )
            for d in WINDOWS
        }
        figures.series = _series(figures.members, flows[key], months)
    return total, [by_prefix[child.path] for child in children]


def _grouped(
    qs: QuerySet[MembershipPeriod], date_field: str, kind_field: str, today: date
) -> list[tuple[str, str, date, dict]]:
    windows = {
        f"w{days}": Count("pk", filter=Q(**{f"{date_field}__gt": today - timedelta(days=days)}))
        for days in WINDOWS
    }
    rows = (
        qs.annotate(month=TruncMonth(date_field))
        .values("prefix", kind_field, "month")
        .annotate(n=Count("pk"), **windows)
    )
    result = []
    for row in rows:
        month = row["month"]
        if hasattr(month, "date"):
            month = month.date()
        counts = {"n": row["n"], **{days: row[f"w{days}"] for days in WINDOWS}}
        result.append((row["prefix"], row[kind_field], month, counts))
    return result


def _series(members_now: int, flows: dict[str, dict[date, int]], months: list[date]) -> Series:
    starts_by_month: dict[date, int] = defaultdict(int)
    ends_by_month: dict[date, int] = defaultdict(int)
    entries, exits = [], []
    for key, per_month in flows.items():
        target = starts_by_month if key.startswith("start:") else ends_by_month
        for month, n in per_month.items():
            target[month] += n
    for month in months:
        entries.append(flows.get(f"start:{PeriodStart.ENTRY}", {}).get(month, 0))
        exits.append(
            sum(
                v.get(month, 0)
                for k, v in flows.items()
                if k.startswith("end:") and k != f"end:{TRANSFER_OUT}"
            )
        )
    # Walk back from today: the members at the end of a month are today's, less what
    # started after it, plus what ended after it.
    members = []
    count = members_now
    for month in reversed(months):
        members.append(count)
        count = count - starts_by_month.get(month, 0) + ends_by_month.get(month, 0)
    return Series(months=months, members=members[::-1], entries=entries, exits=exits)
