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


# Mailers that accept a message and deliver it nowhere: fine in tests, never in production.
NOWHERE = ("locmem.EmailBackend", "dummy.EmailBackend", "console.EmailBackend")


@register(Tags.security, deploy=True)
def mail_transport_check(app_configs: object = None, **kwargs: object) -> list[Error]:
    """Build the configured mailer as the outbox will: an SMTP mailer without a host or an
    ESP without its key fails here, at deploy time, and not with the first invitation."""
    from django.core.mail import mailers

    backend = settings.MAILERS["default"]["BACKEND"]
    if backend.endswith(NOWHERE):
        return [
            Error(
                f"MAIL_BACKEND {backend} delivers no e-mail.",
                hint="Set MAIL_BACKEND to an ESP of django-anymail or to SMTP.",
                id="musterrolle.E002",
            )
        ]
    try:
        mailers.create_connection("default")
    except Exception as error:  # every mailer reports its own configuration errors
        return [
            Error(
                f"The e-mail transport cannot be used: {error}",
                hint=(
                    "Set MAIL_BACKEND and its settings: for SMTP, MAIL_OPTIONS with at least "
                    '{"host": "smtp.example.org"}; for an ESP, its key in ANYMAIL or MAIL_OPTIONS.'
                ),
                id="musterrolle.E002",
            )
        ]
    return []
