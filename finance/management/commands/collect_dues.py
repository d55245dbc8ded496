"""`manage.py collect_dues --due YYYY-MM-DD [--division CODE] [--dry-run] --out FILE`: the
direct-debit collection of the dues open on the due date, as a pain.008.001.08 file for the
bank (checked against the schema). A dry run lists what would be collected, the sums per state
and every member skipped with the reason, and writes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance import sepa
from members.models import Division


class Command(BaseCommand):
    help = "Collect the dues open on the due date by SEPA direct debit (pain.008 file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--due", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--division", help="only this division and below (code), e.g. SN")
        parser.add_argument("--dry-run", action="store_true", help="list only; write nothing")
        parser.add_argument("--out", help="where to write the pain.008 file")

    def handle(self, *args: Any, **options: Any) -> None:
        division = None
        if options["division"]:
            division = Division.objects.filter(code__iexact=options["division"]).first()
            if division is None:
                raise CommandError(f"No division with the code {options['division']}.")
        due_on = options["due"]
        if options["dry_run"]:
            self._report(sepa.plan(due_on=due_on, division=division), dry_run=True)
            return
        if not options["out"]:
            raise CommandError("--out FILE is required (or --dry-run).")
        out = Path(options["out"])
        if not out.parent.is_dir():
            raise CommandError(f"The folder {out.parent} does not exist.")
        try:
            collection, result = sepa.create(due_on=due_on, division=division)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        out.write_bytes(bytes(collection.xml))
        self._report(result, dry_run=False)
        self.stdout.write(f"Written: {out} (message id {collection.message_id})")

    def _report(self, result: sepa.Plan, *, dry_run: bool) -> None:
        verb = "would collect" if dry_run else "collected"
        self.stdout.write(
            f"Due {result.due_on}: {verb} {len(result.debits)} debit(s), {result.total:.2f} EUR"
        )
        for state, (count, total) in result.per_state().items():
            self.stdout.write(f"  {state or '-'}: {count} debit(s), {total:.2f} EUR")
        reasons = result.reasons()
        if reasons:
            self.stdout.write(f"Skipped: {sum(count for _reason, count in reasons)}")
            for reason, count in reasons:
                self.stdout.write(f"  {reason}: {count}")
            for skipped in result.listed():
                self.stdout.write(
                    f"  - {skipped.number} {skipped.name} ({skipped.state}): {skipped.reason}"
                )
