from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("divisions/<int:pk>/", views.division_detail, name="division_detail"),
    path("divisions/choices/", views.division_choices, name="division_choices"),
    path("divisions/<int:pk>/roles/", views.division_roles, name="division_roles"),
    path("divisions/<int:pk>/roles/grant/", views.role_grant, name="role_grant"),
    path("roles/<int:pk>/revoke/", views.role_revoke, name="role_revoke"),
    path("divisions/<int:pk>/members/", views.member_list, name="member_list"),
    path("divisions/<int:pk>/members/new/", views.request_entry, name="request_entry"),
    path("members/<int:pk>/", views.member_detail, name="member_detail"),
    path(
        "members/<int:pk>/request/<str:kind>/", views.request_for_member, name="request_for_member"
    ),
    path("divisions/<int:pk>/members/export/", views.member_export, name="member_export"),
    path("divisions/<int:pk>/imports/new/", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors.xlsx", views.import_errors, name="import_errors"),
    path("imports/<int:pk>/values/", views.import_values, name="import_values"),
    path("imports/<int:pk>/apply/", views.import_apply, name="import_apply"),
    path("imports/<int:pk>/discard/", views.import_discard, name="import_discard"),
    path("requests/", views.request_list, name="request_list"),
    path("requests/<int:pk>/consent/", views.request_consent, name="request_consent"),
]
