from django.urls import path

from finance import views

app_name = "finance"

urlpatterns = [
    path("members/<int:pk>/account/", views.member_account, name="member_account"),
    path("divisions/<int:pk>/", views.division_overview, name="division_overview"),
    path("statements/", views.statement_list, name="statement_list"),
    path("statements/<int:pk>/", views.statement_detail, name="statement_detail"),
    path("statements/<int:pk>/download.xlsx", views.statement_download, name="statement_download"),
    path("arrears/", views.arrears_overview, name="arrears"),
    path("contributions/", views.contributions, name="contributions"),
    path("arrears/letters/<str:day>/", views.reminder_letters, name="reminder_letters"),
]
