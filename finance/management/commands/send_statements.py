from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from finance import statements
from members.models import Division


class Command(BaseCommand):
    help = "Make and e-mail the monthly statements (each state and month is sent only once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--period", help="YYYY-MM; default: last month")
        parser.add_argument("--division", help="Code of one state association, e.g. SN")
        parser.add_argument("--dry-run", action="store_true", help="Only show who would get what.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["period"]:
            try:
                year, month = (int(part) for part in options["period"].split("-"))
                period = date(year, month, 1)
            except ValueError as error:
                raise CommandError("--period must look like 2026-10") from error
        else:
            period = statements.last_month(timezone.localdate())
        division = None
        if options["division"]:
            division = Division.objects.filter(
                code__iexact=options["division"], level="state"
            ).first()
            if division is None:
                raise CommandError(
                    f"There is no state association with the code {options['division']}."
                )
        for state, count in statements.send_all(
            period=period, division=division, dry_run=options["dry_run"]
        ):
            verb = "would go to" if options["dry_run"] else "e-mails sent:"
            self.stdout.write(f"{state.code} {period:%Y-%m}: {verb} {count}")
