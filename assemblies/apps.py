from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssembliesConfig(AppConfig):
    name = "assemblies"
    verbose_name = _("Assemblies")

    def ready(self) -> None:
        from assemblies import invitations
        from mailings.services import register_audience

        register_audience("assembly", invitations.eligible_members)
