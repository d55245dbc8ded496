from django.urls import path

from onboarding import views

app_name = "onboarding"

urlpatterns = [
    path("", views.index, name="index"),
    path("circles/new/", views.circle_new, name="circle_new"),
    path("circles/<int:pk>/", views.circle_detail, name="circle_detail"),
    path("circles/<int:pk>/settings/", views.circle_settings, name="circle_settings"),
    path("circles/<int:pk>/people/", views.circle_people, name="circle_people"),
    path("circles/<int:pk>/candidates/new/", views.candidate_new, name="candidate_new"),
    path("circles/<int:pk>/channels/", views.channel_work, name="channel_work"),
    path("circles/<int:pk>/mediations/new/", views.mediation_new, name="mediation_new"),
    path("circles/<int:pk>/removal/<int:user_pk>/", views.removal_new, name="removal_new"),
    path("memberships/<int:pk>/role/", views.membership_role, name="membership_role"),
    path("candidates/<int:pk>/", views.candidate_detail, name="candidate_detail"),
    path("candidates/<int:pk>/answer/", views.candidate_answer, name="candidate_answer"),
    path("access/<int:pk>/done/", views.access_done, name="access_done"),
    path("mediations/<int:pk>/", views.mediation_detail, name="mediation_detail"),
]
