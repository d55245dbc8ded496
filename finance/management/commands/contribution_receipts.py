"""`manage.py contribution_receipts --year YYYY [--division CODE] [--dry-run]`: the annual
contribution receipts of a year (finance.receipts). A dry run prints what a run would issue,
correct and withdraw, by which channel and for which sums, and writes nothing; a run issues
them, e-mails them and prints where the print file for members without e-mail is."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance import receipts
from members.models import Division


class Command(BaseCommand):
    help = "Issue the annual contribution receipts of a year (dues and donations per member)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", required=True, type=int, help="e.g. 2025")
        parser.add_argument("--division", help="only this division and below (code), e.g. SN")
        parser.add_argument("--dry-run", action="store_true", help="count only; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        division = None
        if options["division"]:
            division = Division.objects.filter(code__iexact=options["division"]).first()
            if division is None:
                raise CommandError(f"No division with the code {options['division']}.")
        year = options["year"]
        where = f" ({division.code})" if division else ""
        try:
            receipts.check_year(year)
            if options["dry_run"]:
                self._report(
                    f"Receipts {year}{where}, dry run", receipts.plan(year=year, division=division)
                )
                return
            run = receipts.issue_receipts(year=year, division=division)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if run.status != run.Status.DONE:
            raise CommandError(f"The run did not finish: {run.get_status_display()} {run.error}")
        self._report(f"Receipts {year}{where}, run {run.pk}", receipts.tally_of(run))
        parts = receipts.print_parts(run)
        if parts:
            self.stdout.write(
                f"Print file for members without e-mail: {parts} part(s), in the admin under "
                f"the run {run.pk} (/admin/finance/receiptrun/{run.pk}/change/)."
            )

    def _report(self, title: str, tally: receipts.Tally) -> None:
        self.stdout.write(
            f"{title}: {tally.issued} new, {tally.corrected} corrected, "
            f"{tally.withdrawn} withdrawn, {tally.unchanged} unchanged"
            + (f", {tally.nothing} without a positive total" if tally.nothing else "")
        )
        self.stdout.write(f"  by e-mail: {tally.emailed}, by letter: {tally.letters}")
        self.stdout.write(
            f"  dues {tally.dues:.2f} EUR, donations {tally.donations:.2f} EUR, "
            f"total {tally.dues + tally.donations:.2f} EUR"
        )
