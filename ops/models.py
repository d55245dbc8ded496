from django.db import models
from django.utils.translation import gettext_lazy as _


class PendingTask(models.Model):
    """A task that could not be handed to the broker (Redis was gone). The redispatch job
    sends it once the broker is back; every task sent this way may run twice and is written
    to be idempotent (acks_late already redelivers)."""

    name = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("pending task")
        verbose_name_plural = _("pending tasks")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name}{tuple(self.args)}"
