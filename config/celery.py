import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("musterrolle")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The schedule lives in code so that it is reviewed like code. Times are Europe/Berlin
# (CELERY_TIMEZONE).
from celery.schedules import crontab  # noqa: E402

app.conf.beat_schedule = {
    # Tasks kept while the broker was gone are sent once it is back.
    "ops-redispatch": {
        "task": "ops.redispatch",
        "schedule": crontab(minute="*"),
    },
    # Mailings whose worker died go on where they stopped (also checked at worker start).
    "mailings-resume-sending": {
        "task": "mailings.resume_sending",
        "schedule": crontab(minute="*"),
    },
    "mailings-requeue-stuck": {
        "task": "mailings.requeue_stuck",
        "schedule": crontab(minute="*/10"),
    },
    # Candidates whose veto period ended without a standing veto are admitted (00:30).
    "onboarding-admit-due": {
        "task": "onboarding.admit_due",
        "schedule": crontab(minute=30, hour=0),
    },
    # Last month's statements on the 1st, 06:00 Europe/Berlin.
    "finance-send-statements": {
        "task": "finance.send_statements",
        "schedule": crontab(minute=0, hour=6, day_of_month=1),
    },
    # Sunday nights: members' states and the dashboards' register figures, recomputed from the
    # register (every change counts itself in its own transaction: drift is a defect, reported).
    "members-repair-figures": {
        "task": "members.repair_figures",
        "schedule": crontab(minute=15, hour=2, day_of_week=0),
    },
    # Sunday nights: a mailing's audience counts, recomputed from the members (PostgreSQL).
    "mailings-repair-audience-figures": {
        "task": "mailings.repair_audience_figures",
        "schedule": crontab(minute=20, hour=2, day_of_week=0),
    },
    # Every night: the balances and statuses that time changes (dues falling due or overdue).
    "finance-follow-payment-calendar": {
        "task": "finance.follow_payment_calendar",
        "schedule": crontab(minute=30, hour=2),
    },
    # Sunday nights: every member's balance and status recomputed; drift reported and repaired.
    "finance-recompute-payment-states": {
        "task": "finance.recompute_payment_states",
        "schedule": crontab(minute=45, hour=2, day_of_week=0),
    },
    # Sunday nights, after the recompute: the member table in the order board pages read it.
    "members-reorder-register": {
        "task": "members.reorder_register",
        "schedule": crontab(minute=30, hour=3, day_of_week=0),
    },
    # Reminders to members in arrears, after the night's recompute (each sent once).
    "finance-send-reminders": {
        "task": "finance.send_reminders",
        "schedule": crontab(minute=0, hour=7),
    },
    # Members whose reduced dues end within the notice period are told (once per reduction).
    "finance-notify-reductions": {
        "task": "finance.notify_reductions",
        "schedule": crontab(minute=15, hour=7),
    },
    # Strike-offs: new proposals, memberships ended after the objection period, paid ones dropped.
    "finance-strike-offs": {
        "task": "finance.strike_offs",
        "schedule": crontab(minute=30, hour=7),
    },
    # Expired reductions and members turning 18 move to the regular class (00:45).
    "finance-fee-transitions": {
        "task": "finance.fee_transitions",
        "schedule": crontab(minute=45, hour=0),
    },
    # Retention on the 3rd, 04:00: the access log past its period is deleted, members due
    # are told, and the federal office is asked to confirm the erasures (it alone confirms).
    "privacy-retention": {
        "task": "privacy.retention_monthly",
        "schedule": crontab(minute=0, hour=4, day_of_month=3),
    },
    # The year's dues on 2 January; running again later only writes corrections.
    "finance-run-dues": {
        "task": "finance.run_dues",
        "schedule": crontab(minute=0, hour=5, day_of_month=2, month_of_year=1),
    },
}


@worker_init.connect
@beat_init.connect
def _require_production_settings(**kwargs: object) -> None:
    from config.checks import require_production_settings

    require_production_settings()


@worker_ready.connect
def _resume_mailings(sender: object, **kwargs: object) -> None:
    """A worker that starts picks up mailings a dead worker left, once their lease ran out."""
    from django.conf import settings

    app.send_task("mailings.resume_sending", countdown=settings.MAILING_CLAIM_LEASE + 1)
    app.send_task("ops.redispatch")
