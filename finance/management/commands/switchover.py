"""The federal switch-over from the command line: a dry run with the reconciliation report,
or (--apply) the whole existing register brought in at once (finance.switchover).

Exit status: 0 when the register was brought in; otherwise non-zero, since nothing was
applied: 2 after a dry run of a file that is ready to apply, 1 when the file has refused
rows or open values, cannot be read, or is in the register already.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from finance import switchover
from finance.models import Switchover
from members import access
from members.models import User
from members.spreadsheets import SpreadsheetError


class Command(BaseCommand):
    help = (
        "Bring the existing register in from the previous system's export (one row per "
        "member): a dry run with the reconciliation report; --apply brings it in."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--apply", action="store_true", help="Bring the register in.")
        parser.add_argument(
            "--values",
            type=Path,
            default=None,
            help=(
                'What values of the file mean, as JSON: {"division": {"KV Dresden": "SN-DD"}, '
                '"status": {"ruhend": "active"}, "dates": {"joined_on": {"partial": "first"}}}'
            ),
        )
        parser.add_argument(
            "--on",
            type=date.fromisoformat,
            default=None,
            help="The cut-over date the balances are from (YYYY-MM-DD; default today).",
        )
        parser.add_argument(
            "--as-user", default=None, help="E-mail of the federal admin recorded as doing it."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        values = {}
        if options["values"]:
            try:
                values = json.loads(options["values"].read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"The value file cannot be read: {error}") from error
        user = self._user(options["as_user"])
        with transaction.atomic():
            record = switchover.create(
                by=user,
                content=path.read_bytes(),
                filename=path.name,
                values=values,
                cutover_on=options["on"],
            )
        try:
            found = switchover.dry_run(record)
        except SpreadsheetError as error:  # a value file naming unknown values
            raise CommandError(str(error)) from error
        self._report(record)
        if record.status == Switchover.Status.FAILED:
            raise CommandError("Nothing was applied: the file cannot be read.", returncode=1)
        if not options["apply"]:
            ready = record.report.get("ready")
            self.stdout.write(
                "Dry run: nothing was applied. "
                + ("Run again with --apply to bring the register in." if ready else "")
            )
            raise CommandError(
                "Dry run only." if ready else "Not ready to apply.", returncode=2 if ready else 1
            )
        try:
            brought = switchover.apply(record, by=user, found=found)
        except switchover.SwitchoverRefused as error:
            raise CommandError(" ".join(error.messages), returncode=1) from error
        except DatabaseError as error:  # one transaction: nothing was applied
            raise CommandError(f"Nothing was applied: {error}", returncode=1) from error
        self.stdout.write(self.style.SUCCESS(f"Applied: {brought} members brought in."))

    def _user(self, email: str | None) -> User | None:
        if not email:
            return None  # the system itself, as for the weekly jobs
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None or not access.has_global_access(user):
            raise CommandError(f"{email} is not a federal admin.")
        return user

    def _report(self, record: Switchover) -> None:
        report = record.report
        write = self.stdout.write
        if "error" in report:
            write(self.style.ERROR(report["error"]))
            return
        write(f"Switch-over of {report['file']} (cut-over {report['cutover_on']})")
        write(f"Header in row {report['header_row']}; {report['rows']} rows below it.")
        for title, target in report["columns"].items():
            write(f"  {title!s:30} -> {target or '(not imported)'}")
        for column in report["not_imported_columns"]:
            write(
                f"  column not imported: {column['title']} ({column['count']} values, e.g. "
                + ", ".join(map(str, column["examples"]))
                + ")"
            )
        write(
            f"to bring in: {report['to_bring_in']}  already in the register: "
            f"{report['already_in_register']}  refused: {report['refused']}  "
            f"ignored: {report['ignored']}"
        )
        write("Members per state and status:")
        for state, counts in report["per_state"].items():
            write(f"  {state:8} " + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        opening = report["opening"]
        write(
            f"Opening balances: owed {opening['owed']} € by {opening['members_owing']} members, "
            f"credit {opening['credit']} € of {opening['members_in_credit']}, "
            f"net {opening['net']} €"
        )
        for reason, count in report["refused_reasons"].items():
            write(f"  refused {count}x: {reason}")
        for row in report["refused_rows"][:50]:
            write(
                f"  row {row['row']} ({row['number']} {row['name'].strip()}): "
                + "; ".join(row["reasons"])
            )
        for item in report["open_values"]:
            candidates = ", ".join(c["label"] for c in item["candidates"])
            write(
                f"  value to decide: {item['field']} “{item['text']}” ({item['count']} rows)"
                + (f", could be: {candidates}" if candidates else "")
            )
        for question in report["open_dates"]:
            write(
                f"  dates to decide: {question['field']} ({question['partial']} without a day, "
                f"{question['ambiguous']} either way round); --values "
                '{"dates": {"' + question["field"] + '": {"partial": "first", "order": "dmy"}}}'
            )
        for row in report["ignored_rows"][:20]:
            write(f"  row {row['row']} ignored: {row['why']}")
