from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from privacy import retention


class Command(BaseCommand):
    help = (
        "Retention: without --apply, a dry run that lists what a run would do, per kind and "
        "state, and writes nothing. With --apply (the operator's confirmation), the members "
        "due are told and what is listed is anonymised or deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", help="list only (the default)")
        mode.add_argument("--apply", action="store_true", help="carry the run out")
        parser.add_argument(
            "--on", type=date.fromisoformat, help="the day of the run (default: today)"
        )
        parser.add_argument(
            "--digest",
            help="with --apply: the digest a dry run printed; the run is refused if the plan "
            "changed since",
        )

    def handle(
        self, *args: Any, apply: bool, on: date | None, digest: str | None, **options: Any
    ) -> None:
        if apply and on is not None and on != timezone.localdate():
            raise CommandError("--apply runs on today's date only; --on is for dry runs.")
        on = on or timezone.localdate()
        plan = retention.plan(on)
        self.stdout.write(f"Retention on {on.isoformat()} ({'run' if apply else 'dry run'})")
        for kind, group, action, count in plan.rows():
            self.stdout.write(f"  {kind} | {group} | {action}: {count}")
        if plan.empty:
            self.stdout.write("  nothing due")
        for month, count in sorted(plan.waiting.items()):
            self.stdout.write(f"  told, anonymised from {month}: {count}")
        for month, count in sorted(plan.coming.items()):
            self.stdout.write(f"  notices in {month:%Y-%m}: {count}")
        self.stdout.write(f"  digest {plan.digest()}")
        if not apply:
            return
        try:
            done = retention.apply(digest or plan, on=on)
        except retention.PlanChanged as error:
            raise CommandError(
                "The register changed while the plan was made; run again."
            ) from error
        self.stdout.write(
            f"Done: {done.told} told, {done.anonymised} anonymised, {done.finance} finance "
            f"records cleared, {done.candidates} candidates deleted, {done.deliveries} "
            f"recipients and {done.emails} e-mails removed, {done.access_log} access log "
            "entries deleted."
        )
