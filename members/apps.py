from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the deploy check
        from members import search_indexes  # noqa: F401 - a new state gets its index
