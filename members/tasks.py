import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from ops import dispatch

logger = logging.getLogger(__name__)


# A file is read within these limits in the worker (the reader's own limits come first).
@shared_task(
    name="members.check_import", **dispatch.DATABASE_RETRY, soft_time_limit=120, time_limit=150
)
def check_import(batch_id: int, mapping: dict[str, str] | None = None) -> None:
    from members import imports

    imports.check_batch(batch_id=batch_id, mapping=mapping)


@shared_task(bind=True, name="members.apply_import", **dispatch.DATABASE_RETRY)
def apply_import(self, batch_id: int) -> None:
    from members import imports

    try:
        imports.run_apply(batch_id=batch_id)
    except (OperationalError, InterfaceError):
        if self.request.retries >= self.max_retries:
            imports.give_up_apply(batch_id=batch_id)
        raise


@shared_task(name="members.repair_figures")
def repair_figures() -> None:
    """Weekly: members' states and the register figures, recomputed from the register.
    Boards reach members by their state column: a wrong one is a defect, and logged."""
    from members import figures, search_indexes, services

    if fixed := services.fill_states():
        logger.warning("The state of %d members was missing or wrong; corrected.", fixed)
    figures.repair()
    search_indexes.ensure()


@shared_task(name="members.reorder_register")
def reorder_register() -> None:
    """Weekly, at night: the member table rewritten in the order the board pages read it
    (members.physical_order); skipped for a week when the table is in use."""
    from members import physical_order

    physical_order.rewrite()


@shared_task(name="members.after_division_move")
def after_division_move() -> None:
    """A division moved: its members' state and every subtree's figures follow the tree."""
    from members import figures, search_indexes, services
    from members.signals import divisions_moved

    services.fill_states()
    figures.repair()
    divisions_moved.send(sender=None)  # before the indexes: their build may wait or fail
    search_indexes.ensure()
