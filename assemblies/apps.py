from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssembliesConfig(AppConfig):
    name = "assemblies"
    verbose_name = _("Assemblies")

    def ready(self) -> None:
        from assemblies import invitations, simulation
        from finance.simulation import register_month_end_check
        from mailings.services import register_audience

        register_audience("assembly", invitations.eligible_members)
        register_month_end_check(simulation.check_eligibility)
