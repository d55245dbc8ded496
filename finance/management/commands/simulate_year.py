"""`manage.py simulate_year --members N --seed S [--state CODE] [--months 13]`: a party's
year, day by day, on a throwaway database; exit code 1 when an invariant breaks.

The command never touches the configured database: it starts itself again with DATABASE_URL
pointing to an SQLite file in a new temporary directory (and no Redis: tasks run at once;
e-mail to a backend that keeps nothing), migrates it, simulates (finance.simulation), prints
one line per month and the verdict, and removes the directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from argparse import SUPPRESS
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from finance.simulation import SANDBOX, Options, simulate


class Command(BaseCommand):
    help = "Simulate a year of a state association on a throwaway database and check it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--members", type=int, required=True, help="members at the start")
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--state", default="SN", help="the state association's code")
        parser.add_argument("--months", type=int, default=13, help="from 1 December on")
        parser.add_argument("--verbose", action="store_true", help="the app's warnings, too")
        # For the test that proves a broken invariant is reported (not for people).
        parser.add_argument("--corrupt-balance-on", type=date.fromisoformat, help=SUPPRESS)
        parser.add_argument("--corrupt-unseen-on", type=date.fromisoformat, help=SUPPRESS)
        parser.add_argument("--corrupt-share-on", type=date.fromisoformat, help=SUPPRESS)
        parser.add_argument("--corrupt-activation-on", type=date.fromisoformat, help=SUPPRESS)
        parser.add_argument("--corrupt-retention", action="store_true", help=SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["members"] < 1 or not 1 <= options["months"] <= 24:
            raise CommandError("--members must be positive and --months between 1 and 24.")
        state = options["state"].upper()
        if not state.isalnum() or len(state) > 5 or state == "BUND":
            raise CommandError("--state is a state association's short code, e.g. SN.")
        # The parent starts the child on a throwaway database; only the child simulates.
        run = self._simulate if os.environ.get(SANDBOX) else self._in_sandbox
        if code := run(options):
            sys.exit(code)

    def _in_sandbox(self, options: dict[str, Any]) -> int:
        """Start this command again on a database of its own; remove it afterwards."""
        directory = tempfile.mkdtemp(prefix="musterrolle-simulation-", dir=tempfile.gettempdir())
        database = Path(directory) / "sim.sqlite3"
        env = {
            **os.environ,
            SANDBOX: str(database),
            "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",  # DEBUG would keep every query in memory
            "MUSTERROLLE_TESTING": "1",  # simple static storage, the fast password hasher
            "MAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "LOG_LEVEL": "WARNING" if options["verbose"] else "ERROR",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "MAIL_OPTIONS", "ANYMAIL"):
            env.pop(name, None)
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "simulate_year",
            "--members",
            str(options["members"]),
            "--seed",
            str(options["seed"]),
            "--state",
            options["state"],
            "--months",
            str(options["months"]),
        ]
        if options["verbose"]:
            command.append("--verbose")
        if options["corrupt_retention"]:
            command.append("--corrupt-retention")
        for name in (
            "corrupt_balance_on",
            "corrupt_unseen_on",
            "corrupt_share_on",
            "corrupt_activation_on",
        ):
            if options[name]:
                command += [f"--{name.replace('_', '-')}", options[name].isoformat()]
        try:
            self.stdout.flush()
            return subprocess.run(command, env=env, check=False).returncode  # noqa: S603
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _simulate(self, options: dict[str, Any]) -> int:
        """The child: refuse anything but the throwaway database the parent made."""
        database = settings.DATABASES["default"]
        expected = Path(os.environ[SANDBOX])
        temporary = Path(tempfile.gettempdir()).resolve()
        if (
            database["ENGINE"] != "django.db.backends.sqlite3"
            or Path(database["NAME"]).resolve() != expected.resolve()
            or temporary not in expected.resolve().parents
            or connection.introspection.table_names()  # a fresh file, nobody's data
        ):
            raise CommandError("simulate_year runs only on the throwaway database it creates.")
        call_command("migrate", verbosity=0, interactive=False)
        return simulate(
            Options(
                members=options["members"],
                seed=options["seed"],
                state=options["state"].upper(),
                months=options["months"],
                corrupt_balance_on=options["corrupt_balance_on"],
                corrupt_unseen_on=options["corrupt_unseen_on"],
                corrupt_share_on=options["corrupt_share_on"],
                corrupt_activation_on=options["corrupt_activation_on"],
                corrupt_retention=options["corrupt_retention"],
            ),
            write=lambda line: self.stdout.write(line),
        )
