"""The start page, mounted at the site's root by smartcard_route.urls (name "home"), and where
signing in lands (name "landing", settings.LOGIN_REDIRECT_URL)."""

from django.urls import path

from issues.views import home

urlpatterns = [
    path("", home.home, name="home"),
    path("welcome/", home.landing, name="landing"),
]
