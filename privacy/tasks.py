from celery import shared_task


@shared_task(name="privacy.retention_monthly")
def retention_monthly() -> None:
    """Monthly: the access log past its period goes; members due are told; the federal office
    is asked to confirm what would be erased (privacy.retention.monthly)."""
    from privacy import retention

    retention.monthly()
