from celery import shared_task


@shared_task(name="onboarding.admit_due")
def admit_due() -> dict[str, int]:
    """Daily: admit candidates whose veto period ended without a veto (idempotent)."""
    from onboarding import services

    return services.admit_due()
