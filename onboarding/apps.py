from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("Onboarding")

    def ready(self) -> None:
        from members import access
        from onboarding import rules

        if rules.in_any_circle not in access.EXTRA_PRIVILEGE_CHECKS:
            access.EXTRA_PRIVILEGE_CHECKS.append(rules.in_any_circle)
