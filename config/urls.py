from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from mailings.webhooks import tracking as tracking_webhook
from ops.views import healthz

# A database error outside a view (a middleware) gets the "database unreachable" page too.
handler500 = "ops.views.server_error"

admin.site.site_header = _("Musterrolle – federal office")
admin.site.site_title = _("Musterrolle")
admin.site.index_title = _("Administration")


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed name exists only after collectstatic.
    return redirect(static("img/favicon.svg"), permanent=True)


urlpatterns = [
    path("accounts/", include("allauth.urls")),
    # The admin has its own password-only login; everyone logs in through allauth's, which
    # asks for the second factor and is rate-limited.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="account_login", query_string=True),
        name="admin_login",
    ),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("assemblies/", include("assemblies.urls")),
    path("finance/", include("finance.urls")),
    path("mailings/", include("mailings.urls")),
    path("onboarding/", include("onboarding.urls")),
    path("privacy/", include("privacy.urls")),
    # The e-mail provider's tracking webhook (bounces, complaints), signature-checked.
    path("anymail/<str:esp>/tracking/", tracking_webhook, name="anymail_tracking"),
    path("", include("members.urls")),
]
