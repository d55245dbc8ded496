from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from members import figures


class Command(BaseCommand):
    help = (
        "Recompute the dashboards' register figures from the register and report drift "
        "(beat runs this every night)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="only report drift, change nothing"
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        drift = figures.repair(fix=not check)
        rows = ", ".join(f"{table}: {count}" for table, count in drift.items())
        self.stdout.write(f"drift in rows per table: {rows}")
