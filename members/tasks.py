from celery import shared_task


@shared_task(name="members.check_import")
def check_import(batch_id: int, mapping: dict[str, str] | None = None) -> None:
    from members import imports

    imports.check_batch(batch_id=batch_id, mapping=mapping)


@shared_task(name="members.apply_import")
def apply_import(batch_id: int) -> None:
    from members import imports

    imports.run_apply(batch_id=batch_id)


@shared_task(name="members.repair_figures")
def repair_figures() -> None:
    from members import figures

    figures.repair()
