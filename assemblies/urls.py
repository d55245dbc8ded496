from django.urls import path

from assemblies import views

app_name = "assemblies"

urlpatterns = [
    path("", views.assembly_list, name="assembly_list"),
    path("new/", views.assembly_new, name="assembly_new"),
    path("<int:pk>/", views.assembly_detail, name="assembly_detail"),
    path("<int:pk>/edit/", views.assembly_edit, name="assembly_edit"),
    path("<int:pk>/freeze/", views.assembly_freeze, name="assembly_freeze"),
    path("<int:pk>/list/", views.assembly_entries, name="assembly_entries"),
    path("<int:pk>/changes/", views.assembly_changes, name="assembly_changes"),
    path("<int:pk>/list.xlsx", views.assembly_export, name="assembly_export"),
    path("<int:pk>/list.pdf", views.assembly_print, name="assembly_print"),
    path("<int:pk>/invite/", views.assembly_invite, name="assembly_invite"),
    path("<int:pk>/seats/", views.assembly_seats, name="assembly_seats"),
    path("<int:pk>/postal/", views.assembly_postal, name="assembly_postal"),
    path("<int:pk>/checkin/", views.assembly_checkin, name="assembly_checkin"),
    path("<int:pk>/checkin/count/", views.assembly_presence, name="assembly_presence"),
    path("<int:pk>/checkin/<int:member_pk>/", views.assembly_check_in, name="assembly_check_in"),
    path("<int:pk>/postal/dispatch.xlsx", views.assembly_dispatch, name="assembly_dispatch"),
    path("<int:pk>/letters.pdf", views.assembly_letters, name="assembly_letters"),
]
