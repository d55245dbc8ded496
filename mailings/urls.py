from django.urls import path

from mailings import views

app_name = "mailings"

urlpatterns = [
    path("", views.mailing_list, name="mailing_list"),
    path("bounced/", views.bounced, name="bounced"),
    path("divisions/<int:pk>/new/", views.mailing_new, name="mailing_new"),
    path("divisions/<int:pk>/audience/", views.audience_count, name="audience_count"),
    path("<int:pk>/", views.mailing_detail, name="mailing_detail"),
    path("<int:pk>/edit/", views.mailing_edit, name="mailing_edit"),
    path("<int:pk>/preview/", views.mailing_preview, name="mailing_preview"),
    path("<int:pk>/preview.html", views.mailing_preview_html, name="mailing_preview_html"),
    path("<int:pk>/test/", views.mailing_test_send, name="mailing_test_send"),
    path("<int:pk>/send/", views.mailing_send, name="mailing_send"),
    path("<int:pk>/release/", views.mailing_release, name="mailing_release"),
    path("<int:pk>/withdraw/", views.mailing_withdraw, name="mailing_withdraw"),
    path("<int:pk>/pause/", views.mailing_pause, name="mailing_pause"),
    path("<int:pk>/resume/", views.mailing_resume, name="mailing_resume"),
    path("<int:pk>/progress/", views.mailing_progress, name="mailing_progress"),
    path("<int:pk>/excluded/", views.mailing_excluded, name="mailing_excluded"),
    # Public: the signed link in every newsletter.
    path("unsubscribe/<int:delivery>/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/sample/", views.unsubscribe_sample, name="unsubscribe_sample"),
]
