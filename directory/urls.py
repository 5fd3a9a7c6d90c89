from django.urls import path

from directory import views

app_name = "directory"

urlpatterns = [
    path("", views.pharmacy_search, name="pharmacy_search"),
    path("pharmacies/<str:ods_code>/", views.pharmacy_detail, name="pharmacy_detail"),
    path("ras/", views.ra_list, name="ra_list"),
    path("ras/<int:pk>/", views.ra_detail, name="ra_detail"),
    path("ras/<int:pk>/report/", views.ra_report, name="ra_report"),
    path("lpcs/", views.lpc_list, name="lpc_list"),
    path("lpcs/<int:pk>/", views.lpc_detail, name="lpc_detail"),
    path("lpcs/<int:pk>/report/", views.lpc_report, name="lpc_report"),
    path("corrections/", views.correction_reports, name="correction_reports"),
    path("corrections/<int:pk>/done/", views.correction_report_done, name="correction_report_done"),
]
