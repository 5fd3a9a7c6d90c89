from django.urls import path

from issues import account_views

app_name = "notifications"

urlpatterns = [
    path("notifications/", account_views.notification_preferences, name="notification_preferences"),
    path("notifications/save/", account_views.notification_preferences_save, name="notification_preferences_save"),
]
