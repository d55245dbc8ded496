"""The daily admission for cron users: `manage.py admit_candidates [--date YYYY-MM-DD]`."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand

from onboarding import services


class Command(BaseCommand):
    help = "Admit candidates whose veto period ended without a veto; send vetoed cases on."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", type=date.fromisoformat, default=None, help="as if today")

    def handle(self, *args: Any, **options: Any) -> None:
        done = services.admit_due(options["date"])
        self.stdout.write(f"{done['admitted']} admitted, {done['vetoed']} vetoed")
