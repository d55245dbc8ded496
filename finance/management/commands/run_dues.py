from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from finance import services
from members.models import Division


class Command(BaseCommand):
    help = "Charge the dues of a year (idempotent: only differences are written)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--year", type=int, default=None, help="Default: this year.")
        parser.add_argument(
            "--division", default=None, help="Only members of this division (code)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        division = None
        if options["division"]:
            division = Division.objects.filter(code__iexact=options["division"]).first()
            if division is None:
                raise CommandError(f"There is no division with the code {options['division']}.")
        year = options["year"] or timezone.localdate().year
        result = services.run_dues(year=year, division=division)
        self.stdout.write(
            f"Dues {year}: {result.charged} charged, {result.corrected} corrected, {result.unchanged} unchanged."
        )
