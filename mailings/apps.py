from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingsConfig(AppConfig):
    name = "mailings"
    verbose_name = _("Mailings")

    def ready(self) -> None:
        from anymail.signals import tracking

        from mailings.tracking import on_tracking

        tracking.connect(on_tracking, dispatch_uid="mailings.tracking")

        from mailings import audience
        from members.signals import divisions_moved

        divisions_moved.connect(audience.after_move, dispatch_uid="mailings.audience")
