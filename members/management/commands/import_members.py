"""Validate (and with --apply, apply) a member spreadsheet, for the federal office."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from members import imports
from members.models import Division, ImportBatch, User


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
        batch = imports.check_batch(batch_id=batch.pk)
        self._report(batch)
        if batch.status == ImportBatch.Status.FAILED or batch.errors:
            raise CommandError("Nothing was imported.")
        if options["apply"]:
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
        for row in batch.report:
            if row["errors"]:
                self.stdout.write(f"  row {row['row']}: " + "; ".join(row["errors"]))
            elif row["diff"]:
                changes = ", ".join(f"{k}: {old} -> {new}" for k, (old, new) in row["diff"].items())
                self.stdout.write(f"  row {row['row']}: {changes}")
