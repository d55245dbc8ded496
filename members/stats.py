"""Membership figures for a division's subtree: now, recent windows, the last 24 months.

`members_on` answers "how many members did this division have on date X" from the membership
periods (business dates); the dashboard reads the register figures kept with every change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q, Sum
from django.db.models.functions import Substr

from members.figures import EVENT_COLUMNS as EVENTS
from members.models import (
    Division,
    DivisionDay,
    DivisionMonth,
    DivisionTally,
    MembershipPeriod,
    MemberStatus,
)

WINDOWS = (14, 30, 90, 365)
MONTHS = 24


def members_now(division: Division, statuses: list[str]) -> int:
    """How many members of these statuses the division and everything below it has now."""
    return (
        DivisionTally.objects.filter(
            division__path__startswith=division.path, status__in=statuses
        ).aggregate(n=Sum("count"))["n"]
        or 0
    )


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

    Read from the register figures (members.models.figures): member counts summed in the
    database by the sub-division each division falls under, events from the division's and its
    children's own rows. A few hundred rows at most, however many members the subtree has.
    """
    children = list(Division.objects.get_children(division).order_by("name"))
    total = Figures(division)
    everyone = [total, *(Figures(child) for child in children)]
    length = _key_length(division)
    # Rows of the division itself fall under no child: they count for the total only.
    slots = {child.path: [0, i] for i, child in enumerate(children, start=1)}

    current = (
        DivisionTally.objects.filter(division__path__startswith=division.path)
        .annotate(prefix=Substr("division__path", 1, length))
        .values_list("prefix", "status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for prefix, status, n in current:
        for s in slots.get(prefix, [0]):
            if status == MemberStatus.ACTIVE:
                everyone[s].active += n
            elif status == MemberStatus.PENDING:
                everyone[s].pending += n

    # Event rows count a division's whole subtree: read the division's own and its children's.
    slot = {division.pk: 0, **{child.pk: i for i, child in enumerate(children, start=1)}}
    months = month_starts(today)
    month_index = {month: i for i, month in enumerate(months)}
    series = {name: [[0] * len(months) for _ in everyone] for name in EVENTS}
    monthly = DivisionMonth.objects.filter(
        division_id__in=slot, month__gte=months[0], month__lte=today
    ).values_list("division_id", "month", *EVENTS)
    for division_id, month, *counts in monthly:
        for name, n in zip(EVENTS, counts, strict=True):
            series[name][slot[division_id]][month_index[month]] += n
    # Events dated later in the current month do not belong to its figures yet.
    later = DivisionDay.objects.filter(
        division_id__in=slot, day__gt=today, day__lt=_next_month(today)
    ).values_list("division_id", *EVENTS)
    for division_id, *counts in later:
        for name, n in zip(EVENTS, counts, strict=True):
            series[name][slot[division_id]][-1] -= n

    # Entries and exits in the last 14, 30 and 90 days: the division's own daily rows. In the
    # last 365 days (also for each child): the months after the first one from the series,
    # and the days of that first, partial month. A few hundred rows, however busy the year.
    entries = [{365: 0} for _ in everyone]
    exits = [{365: 0} for _ in everyone]
    short = [days for days in WINDOWS if days != 365]
    recent = DivisionDay.objects.filter(
        division_id=division.pk, day__gt=today - timedelta(days=max(short)), day__lte=today
    ).aggregate(
        **{
            f"{kind}{days}": Sum(kind, filter=Q(day__gt=today - timedelta(days=days)))
            for kind in ("entries", "exits")
            for days in short
        }
    )
    for days in short:
        entries[0][days] = recent[f"entries{days}"] or 0
        exits[0][days] = recent[f"exits{days}"] or 0
    first_day = today - timedelta(days=364)
    first_month = month_index[first_day.replace(day=1)]
    for s in range(len(everyone)):
        entries[s][365] = sum(series["entries"][s][first_month + 1 :])
        exits[s][365] = sum(series["exits"][s][first_month + 1 :])
    edge = (
        DivisionDay.objects.filter(
            division_id__in=slot,
            day__gte=first_day,
            day__lt=_next_month(first_day),
            day__lte=today,
        )
        .values_list("division_id")
        .annotate(Sum("entries"), Sum("exits"))
        .order_by()
    )
    for division_id, entered, left in edge:
        entries[slot[division_id]][365] += entered
        exits[slot[division_id]][365] += left
    # The windows in their order (14, 30, 90, 365) for the tables; children have the year's.
    entries = [{d: counts[d] for d in WINDOWS if d in counts} for counts in entries]
    exits = [{d: counts[d] for d in WINDOWS if d in counts} for counts in exits]

    for s, figures in enumerate(everyone):
        figures.entries = entries[s]
        figures.exits = exits[s]
        figures.series = _series(
            figures.members,
            months,
            series["starts"][s],
            series["ends"][s],
            series["entries"][s],
            series["exits"][s],
        )
    return total, everyone[1:]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


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
