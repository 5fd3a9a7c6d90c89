"""The start page, mounted at the site's root by smartcard_route.urls (name "home")."""

from django.urls import path

from issues.views import home

urlpatterns = [path("", home.home, name="home")]
