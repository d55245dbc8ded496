from celery import shared_task
from django.utils import timezone

from ops import dispatch


@shared_task(name="finance.run_dues", **dispatch.DATABASE_RETRY)
def run_dues(year: int | None = None) -> None:
    from finance import services

    services.run_dues(year=year or timezone.localdate().year)


@shared_task(name="finance.send_statements", **dispatch.DATABASE_RETRY)
def send_statements(period: str | None = None) -> None:
    """Monthly, on the 1st: last month's statements (safe to run twice)."""
    from datetime import date

    from finance import statements

    month = date.fromisoformat(period) if period else statements.last_month(timezone.localdate())
    statements.send_all(period=month)


@shared_task(name="finance.follow_payment_calendar")
def follow_payment_calendar() -> None:
    """Nightly: members whose dues fell due or overdue (see payments.follow_calendar)."""
    from finance import payments

    payments.follow_calendar(timezone.localdate())
    from finance import shares

    shares.split_pending()  # normally split when booked; anything missed, here


@shared_task(name="finance.recompute_payment_states")
def recompute_payment_states() -> None:
    """Weekly: every member recomputed from the ledger; drift reported and repaired."""
    from finance import payments

    payments.recompute_all()


@shared_task(
    bind=True,
    name="finance.import_bank_file",
    soft_time_limit=120,
    time_limit=150,
    **dispatch.DATABASE_RETRY,
)
def import_bank_file(self, upload_id: int) -> None:
    from finance import payments

    payments.import_bank_file(upload_id=upload_id, retrying=self.request.retries > 0)


@shared_task(name="finance.send_reminders", **dispatch.DATABASE_RETRY)
def send_reminders() -> None:
    """Daily: the reminders due today (safe to run twice: each is sent once)."""
    from finance import arrears

    arrears.send_reminders(on=timezone.localdate())


@shared_task(name="finance.strike_offs")
def strike_offs() -> None:
    """Daily: propose new candidates, end the memberships whose objection period is over and
    drop what the members paid meanwhile."""
    from finance import arrears

    today = timezone.localdate()
    arrears.propose_strike_offs(on=today)
    arrears.strike_off_due(on=today)


@shared_task(name="finance.notify_reductions")
def notify_reductions() -> None:
    """Daily: tell members whose reduced dues end soon (once per reduction)."""
    from finance import arrears

    arrears.notify_reductions(on=timezone.localdate())


@shared_task(name="finance.fee_transitions")
def fee_transitions() -> None:
    """Daily: expired reductions and members turning 18 move to the regular class."""
    from finance import services

    services.apply_fee_transitions(on=timezone.localdate())


@shared_task(name="finance.check_switchover", **dispatch.DATABASE_RETRY)
def check_switchover(switchover_id: int) -> None:
    """The switch-over's dry run: read the file, write the reconciliation report."""
    from finance import switchover
    from finance.models import Switchover

    switchover.check(Switchover.objects.get(pk=switchover_id))


@shared_task(name="finance.apply_switchover", **dispatch.DATABASE_RETRY)
def apply_switchover(switchover_id: int, user_id: int | None) -> None:
    """Bring the register in; a refusal is written into the report (nothing applied)."""
    from finance import switchover
    from finance.models import Switchover
    from members.models import User

    record = Switchover.objects.get(pk=switchover_id)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    try:
        switchover.apply(record, by=user)
    except Exception as error:
        # Nothing was applied (one transaction): the switch-over can be checked and tried again.
        message = (
            " ".join(error.messages)
            if isinstance(error, switchover.SwitchoverRefused)
            else f"Nothing was applied: {error}"
        )
        Switchover.objects.filter(pk=record.pk, status=Switchover.Status.APPLYING).update(
            status=Switchover.Status.CHECKED, report={**record.report, "refusal": message}
        )
        if not isinstance(error, switchover.SwitchoverRefused):
            raise


@shared_task(name="finance.send_prenotifications")
def send_prenotifications(collection_id: int) -> None:
    """After a collection is made: each member is told once (e-mail, else the letter list)."""
    from finance import sepa
    from finance.models import Collection

    collection = Collection.objects.get(pk=collection_id)
    sepa.send_prenotifications(collection)
    sepa.write_letters(collection)


@shared_task(name="finance.make_collection", soft_time_limit=1800, time_limit=1900)
def make_collection(token: str, due_on: str, division_id: int | None, user_id: int) -> None:
    """A collection started in the admin, its progress reported for the page watching it."""
    from datetime import date

    from finance import sepa

    sepa.make_run(token, date.fromisoformat(due_on), division_id, user_id)


@shared_task(name="finance.contribution_receipts")
def contribution_receipts(run_id: int) -> None:
    """A run of the annual contribution receipts (safe to run twice: it is claimed, and a
    member whose receipt is current gets nothing new)."""
    from finance import receipts

    receipts.execute_run(run_id=run_id)
