from django.urls import path

from members import views

app_name = "members"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("divisions/<int:pk>/", views.division_detail, name="division_detail"),
    path("divisions/<int:pk>/roles/", views.division_roles, name="division_roles"),
    path("divisions/<int:pk>/roles/grant/", views.role_grant, name="role_grant"),
    path("roles/<int:pk>/revoke/", views.role_revoke, name="role_revoke"),
]
