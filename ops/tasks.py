from celery import shared_task

from ops import dispatch


@shared_task(name="ops.redispatch")
def redispatch() -> None:
    """Every minute: tasks kept while the broker was gone are sent now."""
    dispatch.redispatch()
