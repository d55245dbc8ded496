"""Register figures kept up to date with every change, so that a dashboard reads a few rows
per sub-division whatever the number of members.

Member counts are kept per division (a subtree's count sums a few hundred rows); events per day
and month are kept for each division's whole subtree (an event counts for its division and
every division above it), so that a dashboard reads only its own and its children's rows. The
register's services write them in the change's transaction; `members.figures.repair`
recomputes them from the register every night and reports any drift.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DivisionTally(models.Model):
    """How many members of one status belong to the division right now."""

    division = models.ForeignKey("members.Division", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10)
    count = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("member count")
        verbose_name_plural = _("member counts")
        constraints = [
            models.UniqueConstraint(
                fields=["division", "status"], name="members_divisiontally_one_per_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.division_id} {self.status}: {self.count}"


class RegisterEvents(models.Model):
    """Periods that began and ended in the division's subtree on one day, or in one month.

    `starts` and `ends` count every period (a transfer ends one and starts another), `entries`
    and `exits` only admissions and ends of membership."""

    division = models.ForeignKey("members.Division", on_delete=models.CASCADE, related_name="+")
    starts = models.IntegerField(default=0)
    ends = models.IntegerField(default=0)
    entries = models.IntegerField(default=0)
    exits = models.IntegerField(default=0)

    class Meta:
        abstract = True


class DivisionDay(RegisterEvents):
    day = models.DateField()

    class Meta:
        verbose_name = _("register events of a day")
        verbose_name_plural = _("register events per day")
        constraints = [
            models.UniqueConstraint(fields=["division", "day"], name="members_divisionday_one")
        ]
        indexes = [
            # On PostgreSQL the dashboard's sums read only this index.
            models.Index(
                fields=["division", "day"],
                include=["starts", "ends", "entries", "exits"],
                name="members_divisionday_sums",
            )
        ]

    def __str__(self) -> str:
        return f"{self.division_id} {self.day}"


class DivisionMonth(RegisterEvents):
    month = models.DateField()  # the first day of the month

    class Meta:
        verbose_name = _("register events of a month")
        verbose_name_plural = _("register events per month")
        constraints = [
            models.UniqueConstraint(fields=["division", "month"], name="members_divisionmonth_one")
        ]
        indexes = [
            # On PostgreSQL the dashboard's sums read only this index.
            models.Index(
                fields=["division", "month"],
                include=["starts", "ends", "entries", "exits"],
                name="members_divisionmonth_sums",
            )
        ]

    def __str__(self) -> str:
        return f"{self.division_id} {self.month}"
