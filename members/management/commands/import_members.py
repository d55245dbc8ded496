"""Validate (and with --apply, apply) a member spreadsheet, for the federal office."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from members import imports
from members.models import Division, ImportBatch, User
from members.spreadsheets import SpreadsheetError


class Command(BaseCommand):
    help = "Check a member spreadsheet (.xlsx or .csv) against the register; --apply applies it directly."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--division", required=True, help="Code of the division, e.g. SN")
        parser.add_argument(
            "--apply", action="store_true", help="Apply the import if no row has an error."
        )
        parser.add_argument(
            "--as-user", default=None, help="E-mail of the federal admin recorded as the importer."
        )
        parser.add_argument(
            "--values",
            type=Path,
            default=None,
            help=(
                'What values mean, as JSON: {"division": {"KV Dresden": "SN-DD"}, '
                '"fee_class": {"72 €": "regular:72.00"}, "dates": {"joined_on": '
                '{"partial": "first", "order": "dmy"}}}. Divisions by code or name.'
            ),
        )
        parser.add_argument(
            "--propose-unknown",
            action="store_true",
            help="With --apply: enter the rows whose number the register does not know, too.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        division = Division.objects.filter(code__iexact=options["division"]).first()
        if division is None:
            raise CommandError(f"There is no division with the code {options['division']}.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        user = self._importer(options["as_user"])
        with transaction.atomic():
            batch = imports.create_batch(
                by=user, division=division, content=path.read_bytes(), filename=path.name
            )
            if options["values"]:
                try:
                    batch.choices = imports.choices_from_file(
                        options["values"], division=division, user=user
                    )
                except SpreadsheetError as error:
                    raise CommandError(str(error)) from error
                batch.save(update_fields=["choices"])
        batch = imports.check_batch(batch_id=batch.pk)
        self._report(batch)
        if batch.status == ImportBatch.Status.FAILED or batch.errors:
            raise CommandError("Nothing was imported.")
        if options["apply"]:
            if options["propose_unknown"]:
                batch.choices = {**batch.choices, "propose_unknown": True}
                batch.save(update_fields=["choices"])
            imports.apply_batch(batch_id=batch.pk)
            self.stdout.write(
                self.style.SUCCESS(f"Applied: {batch.new} new, {batch.changed} changed.")
            )
        else:
            self.stdout.write("Checked only; run again with --apply to apply.")

    def _importer(self, email: str | None) -> User:
        staff = User.objects.filter(is_staff=True, is_active=True)
        user = staff.filter(email__iexact=email).first() if email else None
        user = user or next(
            (u for u in staff.order_by("pk") if imports.access.has_global_access(u)), None
        )
        if user is None:
            raise CommandError(
                "No federal admin (staff with members.access_all_divisions) to record the import."
            )
        return user

    def _report(self, batch: ImportBatch) -> None:
        if batch.error:
            self.stdout.write(self.style.ERROR(batch.error))
        if not batch.header:
            return
        labels = imports.field_labels()
        self.stdout.write(f"Header in row {batch.header_row}:")
        for index, title in enumerate(batch.header):
            target = batch.mapping.get(str(index), "")
            self.stdout.write(
                f"  {title or '(no title)'!s:30} -> {labels.get(target, '(ignored)')}"
            )
        self.stdout.write(
            f"new: {batch.new}  changed: {batch.changed}  unchanged: {batch.unchanged}  errors: {batch.errors}"
        )
        findings = batch.findings or {}
        self.stdout.write(
            f"not in the register: {findings.get('unknown', 0)}  "
            f"not imported: {findings.get('skipped', 0)}  "
            f"with notes: {findings.get('warnings', 0)}"
        )
        for column in findings.get("unmapped", []):
            self.stdout.write(
                f"  column not imported: {column['title']} ({column['count']} values, e.g. "
                + ", ".join(column["examples"])
                + ")"
            )
        for name, items in findings.get("values", {}).items():
            for item in items:
                if not item["choice"]:
                    candidates = ", ".join(c["label"] for c in item["candidates"])
                    self.stdout.write(
                        f"  value not mapped: {name} “{item['text']}” ({item['count']} rows)"
                        + (f", could be: {candidates}" if candidates else "")
                    )
        for name, question in findings.get("dates", {}).items():
            if question["partial"] and not question["fill"]:
                self.stdout.write(
                    f"  dates without a day: {name} ({question['partial']} values, e.g. "
                    + ", ".join(question["examples"])
                    + '); decide with --values: {"dates": {"'
                    + name
                    + '": {"partial": "first"}}}'
                )
            if question["ambiguous"] and not question["order"]:
                self.stdout.write(
                    f"  dates either way round: {name} ({question['ambiguous']} values); "
                    'decide with --values: {"dates": {"' + name + '": {"order": "dmy"}}}'
                )
        for row in batch.report:
            if row["errors"]:
                self.stdout.write(f"  row {row['row']}: " + "; ".join(row["errors"]))
            elif row["status"] in ("unknown", "skipped"):
                self.stdout.write(f"  row {row['row']}: " + "; ".join(row["warnings"]))
            elif row["diff"]:
                changes = ", ".join(f"{k}: {old} -> {new}" for k, (old, new) in row["diff"].items())
                self.stdout.write(f"  row {row['row']}: {changes}")
