from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Member
from privacy import subject_access


class Command(BaseCommand):
    help = (
        "Write the data subject access report (GDPR Art. 15) of one member: HTML, PDF and "
        "JSON, into a directory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", type=int, help="the membership number")
        parser.add_argument("--out", required=True, type=Path, help="directory for the files")

    def handle(self, *args: Any, number: int, out: Path, **options: Any) -> None:
        member = Member.objects.filter(membership_number=number).first()
        if member is None:
            raise CommandError(f"No member with the number {number}.")
        out.mkdir(parents=True, exist_ok=True)
        for name, content in subject_access.files(member).items():
            (out / name).write_bytes(content)
            self.stdout.write(str(out / name))
