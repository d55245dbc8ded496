from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.index, name="index"),
    path("retention/", views.retention_view, name="retention"),
    path("retention/letters.csv", views.retention_letters, name="retention_letters"),
    path(
        "retention/letters/posted/",
        views.retention_letters_posted,
        name="retention_letters_posted",
    ),
    path("erasure/", views.erasure_view, name="erasure"),
    path("need-to-know/", views.need_to_know_view, name="need_to_know"),
    path("need-to-know/<int:pk>/", views.need_to_know_division, name="need_to_know_division"),
]
