from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from finance import arrears, letters
from members.models import Division


class Command(BaseCommand):
    help = (
        "Send the reminders due to members in arrears (each once) and write the letters for "
        "members without an e-mail address to MUSTERROLLE_LETTERS_DIR."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--division", help="Only members of this division (code), e.g. SN")
        parser.add_argument("--date", help="YYYY-MM-DD; default: today")
        parser.add_argument("--dry-run", action="store_true", help="Only count; send nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        division = None
        if options["division"]:
            division = Division.objects.filter(code__iexact=options["division"]).first()
            if division is None:
                raise CommandError(f"There is no division with the code {options['division']}.")
        try:
            on = date.fromisoformat(options["date"]) if options["date"] else timezone.localdate()
        except ValueError as error:
            raise CommandError("--date must look like 2026-10-01") from error
        run = arrears.send_reminders(on=on, division=division, dry_run=options["dry_run"])
        verb = "would send" if options["dry_run"] else "sent"
        self.stdout.write(
            f"Reminders {on.isoformat()}{f' {division.code}' if division else ''}: {verb} "
            f"{run.first} first, {run.second} second ({run.letters} letters); "
            f"{run.skipped} in arrears with nothing due."
        )
        if run.letter_ids:
            path = settings.MUSTERROLLE_LETTERS_DIR / letters.letters_file_name(on, division)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(letters.letters_pdf(letters.letters_of(run.letter_ids)))
            self.stdout.write(f"Letters to print: {path}")
