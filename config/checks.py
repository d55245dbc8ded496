from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


def require_production_settings() -> None:
    """Called by every server entry point: never serve without a secret key and site URL."""
    if settings.MISSING_PRODUCTION_SETTINGS:
        missing = ", ".join(settings.MISSING_PRODUCTION_SETTINGS)
        raise ImproperlyConfigured(f"{missing} must be set when DJANGO_DEBUG is off.")


@register(Tags.security, deploy=True)
def production_settings_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    if settings.MISSING_PRODUCTION_SETTINGS:
        return [
            Error(
                f"{name} is not set.",
                hint="Set it in the environment; the servers refuse to start without it.",
                id="musterrolle.E001",
            )
            for name in settings.MISSING_PRODUCTION_SETTINGS
        ]
    return []
