from django.urls import path

from issues.views import notifications

app_name = "notifications"

urlpatterns = [
    path("notifications/", notifications.notification_preferences, name="notification_preferences"),
    path("notifications/save/", notifications.notification_preferences_save, name="notification_preferences_save"),
]
