from django.urls import path

from finance import views

app_name = "finance"

urlpatterns = [
    path("members/<int:pk>/account/", views.member_account, name="member_account"),
]
