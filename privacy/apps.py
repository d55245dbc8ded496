from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Data protection")

    def ready(self) -> None:
        from finance.simulation import register_after_run_check
        from privacy import simulation

        register_after_run_check(simulation.check_retention)
