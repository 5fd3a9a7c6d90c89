"""The NHS.UK layout: header navigation by role, flash messages, error pages, the start page, the CSP.

Some tests swap in a URL configuration of their own (a module-like namespace with `urlpatterns`),
to reach error handlers through views that fail on purpose, or to have the navigation's pages
exist or not whatever the other apps define.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import include, path

from directory.models import User
from directory.navigation import nav_items
from issues.views import home as home_views
from smartcard_route import urls as site_urls
from smartcard_route import views
from tests.test_settings_env import run_python

# Views that fail on purpose.


def _forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("something broke")


@login_not_required
def _with_message(request: HttpRequest) -> HttpResponse:
    messages.success(request, "Your report was sent")
    messages.info(request, "The RA has 2 working days to reply")
    return home_views.home(request)


_ERROR_HANDLERS = {
    "handler403": site_urls.handler403,
    "handler404": site_urls.handler404,
    "handler500": site_urls.handler500,
}


def _urlconf(name: str, urlpatterns: list[object]) -> ModuleType:
    """A URL configuration made on the fly (Django takes any module with `urlpatterns`)."""
    module = ModuleType(name)
    module.urlpatterns = urlpatterns  # type: ignore[attr-defined]
    for handler, view in _ERROR_HANDLERS.items():
        setattr(module, handler, view)
    return module


def _placeholder(request: HttpRequest) -> HttpResponse:
    return HttpResponse("placeholder")


def _site(*, with_issue_pages: bool) -> ModuleType:
    """A site with the pages the navigation links to; the issue pages only when asked for."""
    issue_pages = [
        path("", _placeholder, name="list"),
        path("report/", _placeholder, name="report"),
        path("cpe/unmatched-mail/", _placeholder, name="unmatched_mail"),
    ]
    directory_pages = [
        path("", _placeholder, name="pharmacy_search"),
        path("corrections/", _placeholder, name="correction_reports"),
        path("manage/", _placeholder, name="manage"),
    ]
    urlpatterns = [
        path("", home_views.home, name="home"),
        path("", include("directory.accounts.urls")),
        path("healthz", views.healthz, name="healthz"),
        path("directory/", include((directory_pages, "directory"))),
    ]
    if with_issue_pages:
        urlpatterns.append(path("issues/", include((issue_pages, "issues"))))
        dashboard_pages = [
            path("lpc/", _placeholder, name="lpc"),
            path("cpe-it/", _placeholder, name="cpe_it"),
        ]
        urlpatterns.append(path("dashboard/", include((dashboard_pages, "dashboards"))))
        urlpatterns.append(path("cases/", include(([path("", _placeholder, name="list")], "cases"))))
        account_pages = [path("notifications/", _placeholder, name="notification_preferences")]
        urlpatterns.append(path("account/", include((account_pages, "notifications"))))
    return _urlconf("site_with_issue_pages" if with_issue_pages else "site_without_issue_pages", urlpatterns)


# Personas: pharmacy, staff, owner, lpc_officer, cpe_it and directory_manager come from tests/conftest.py.


def _user(email: str, **flags: bool) -> User:
    return User.objects.create_user(email, "not-used-here-1", full_name=email.split("@")[0].title(), **flags)


@pytest.fixture
def nobody(db: None) -> User:
    return _user("newcomer@pharmacy.example")


def _request(user: User | None, path: str = "/") -> HttpRequest:
    request = RequestFactory().get(path)
    if user is not None:
        request.user = user
    return request


def _texts(items: list[dict[str, object]]) -> list[object]:
    return [item["text"] for item in items]


# The header navigation


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("staff", ["Your issues", "Report a problem", "Reminder emails", "Directory"]),
        ("owner", ["Your issues", "Report a problem", "Reminder emails", "Directory"]),
        ("lpc_officer", ["Issues", "LPC dashboard", "Reminder emails", "Directory"]),
        ("cpe_it", ["Issues", "CPE IT", "Systemic cases", "Unmatched mail", "Reminder emails", "Directory"]),
        ("directory_manager", ["Manage the directory", "Correction reports", "Directory"]),
        ("nobody", ["Directory"]),
    ],
)
def test_it_shows_the_links_of_each_role(persona, expected, request, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)
    user = request.getfixturevalue(persona)

    assert _texts(nav_items(_request(user))) == expected


def test_it_combines_the_links_of_several_roles(staff, lpc_officer, pharmacy, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)
    assert pharmacy.lpc is not None
    pharmacy.lpc.officers.add(staff)
    staff.is_directory_manager = True

    assert _texts(nav_items(_request(staff))) == [
        "Your issues",
        "Report a problem",
        "LPC dashboard",
        "Manage the directory",
        "Correction reports",
        "Reminder emails",
        "Directory",
    ]


def test_it_leaves_out_links_to_pages_that_do_not_exist(staff, cpe_it, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=False)

    assert _texts(nav_items(_request(staff))) == ["Directory"]
    assert _texts(nav_items(_request(cpe_it))) == ["Directory"]


def test_it_shows_no_links_to_anonymous_visitors(db):
    from django.contrib.auth.models import AnonymousUser

    request = _request(None)
    request.user = AnonymousUser()

    assert nav_items(request) == []
    assert nav_items(None) == []


def test_it_marks_the_link_of_the_section_being_visited(staff, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)

    on_report = nav_items(_request(staff, "/issues/report/"))
    on_issue = nav_items(_request(staff, "/issues/42/"))

    assert [(item["text"], item.get("current", False)) for item in on_report if item.get("active")] == [
        ("Report a problem", True)
    ]
    assert [(item["text"], item.get("current", False)) for item in on_issue if item.get("active")] == [
        ("Your issues", False)
    ]


def test_it_finds_the_roles_in_one_query(owner, django_assert_num_queries, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)
    request = _request(owner)

    with django_assert_num_queries(1):
        nav_items(request)
        nav_items(request)


def test_it_draws_the_navigation_in_the_header(client, lpc_officer, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)
    client.force_login(lpc_officer)

    page = client.get("/").content.decode()

    nav = re.search(r'<nav class="nhsuk-header__navigation".*?</nav>', page, re.S)
    assert nav is not None
    assert re.search(r'href="/dashboard/lpc/"[^>]*>\s*LPC dashboard', nav.group(0))
    assert re.search(r'href="/issues/"[^>]*>\s*Issues', nav.group(0))
    assert re.search(r'href="/directory/"[^>]*>\s*Directory', nav.group(0))
    assert "Your issues" not in nav.group(0)


# The layout


def test_it_has_the_service_name_skip_link_and_footer(client, db):
    page = client.get("/").content.decode()

    assert re.search(r'class="nhsuk-header__service-name"[^>]*>\s*Smartcard Route', page)
    assert re.search(r'class="nhsuk-skip-link"[^>]*href="#maincontent"[^>]*>\s*Skip to main content\s*</a>', page)
    assert 'id="maincontent"' in page
    assert '<footer class="nhsuk-footer"' in page
    assert "<title>Get a Smartcard problem fixed \u2013 Smartcard Route</title>" in page


def test_it_uses_only_self_hosted_assets(client, db):
    page = client.get("/").content.decode()

    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        if url.startswith(("http://", "https://", "//")):
            # Links for people to follow are fine; assets (scripts, styles, icons) must be ours.
            assert not re.search(rf'<(?:script|link)[^>]+(?:src|href)="{re.escape(url)}"', page), url
    assert re.search(r'<script type="module" src="/static/js/site\.js">', page)
    assert re.search(r'<link rel="stylesheet" href="/static/build/nhsuk-frontend\.css">', page)


@pytest.mark.urls(__name__)
def test_it_shows_flash_messages_as_notification_banners(client, db):
    page = client.get("/test/messages/").content.decode()

    success = re.search(r'class="[^"]*nhsuk-notification-banner--success[^"]*".*?</p>', page, re.S)
    assert success is not None
    assert "Your report was sent" in success.group(0)
    assert 'role="alert"' in success.group(0)
    assert "The RA has 2 working days to reply" in page
    # Each banner has its own title id, so the page's ids stay unique.
    assert len(set(re.findall(r'id="(notification-banner-title-\d+)"', page))) == 2


# This module is also the URL configuration of the tests marked @pytest.mark.urls(__name__).
urlpatterns = [
    path("test/forbidden/", _forbidden),
    path("test/broken/", _broken),
    path("test/messages/", _with_message),
    *site_urls.urlpatterns,
]
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


# Error pages


def _csp_nonce(response) -> str:
    match = re.search(r"script-src [^;]*'nonce-([^']+)'", response["Content-Security-Policy"])
    assert match is not None, response["Content-Security-Policy"]
    return match.group(1)


def test_it_shows_an_nhs_styled_404_page(client, db):
    response = client.get("/no-such-page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in page
    assert 'class="nhsuk-header' in page
    assert f'nonce="{_csp_nonce(response)}"' in page


@pytest.mark.urls(__name__)
def test_it_shows_an_nhs_styled_403_page(client, staff):
    client.force_login(staff)

    response = client.get("/test/forbidden/")

    page = response.content.decode()
    assert response.status_code == 403
    assert "<h1>You cannot do this</h1>" in page
    assert "Log out" in page
    assert f'nonce="{_csp_nonce(response)}"' in page


@pytest.mark.urls(__name__)
def test_it_shows_an_nhs_styled_500_page_without_the_request(staff):
    client = Client(raise_request_exception=False)
    client.force_login(staff)

    response = client.get("/test/broken/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Sorry, there is a problem with the service</h1>" in page
    assert 'class="nhsuk-header' in page
    # Drawn without the request: no account, no navigation, nothing read from the session.
    assert "Log out" not in page
    assert "nhsuk-header__navigation" not in page
    # The page template's inline script still carries the nonce of the response's policy.
    assert f'nonce="{_csp_nonce(response)}"' in page


def test_it_renders_the_500_page_with_no_request_at_all(db):
    response = views.server_error(None)  # type: ignore[arg-type]

    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.content.decode()


def test_it_explains_an_expired_form(alice_client_without_csrf):
    response = alice_client_without_csrf.post("/password-reset/", {"email": "alice@pharmacy.example"})

    page = response.content.decode()
    assert response.status_code == 403
    assert "This form has expired. Go back, refresh the page and try again." in page
    assert 'class="nhsuk-header' in page


@pytest.fixture
def alice_client_without_csrf(db: None) -> Client:
    return Client(enforce_csrf_checks=True)


# The Content Security Policy


def test_it_sends_a_strict_policy_with_a_nonce_that_the_inline_script_carries(client, db):
    response = client.get("/login/")

    policy = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, _, value = directive.strip().partition(" ")
        policy[name] = value
    nonce = _csp_nonce(response)
    page = response.content.decode()
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == f"'self' 'nonce-{nonce}'"
    assert policy["style-src"] == "'self'"
    assert policy["font-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    scripts = re.findall(r"<script[^>]*>", page)
    inline = [tag for tag in scripts if "src=" not in tag]
    assert inline == [f'<script nonce="{nonce}">']
    assert " style=" not in page


def test_it_uses_a_new_nonce_for_each_response(client, db):
    assert _csp_nonce(client.get("/")) != _csp_nonce(client.get("/"))


# The start page


def test_it_explains_the_seven_steps_of_the_route(client, db):
    page = client.get("/").content.decode()

    steps = re.search(r'<ol class="nhsuk-list nhsuk-list--number">(.*?)</ol>', page, re.S)
    assert steps is not None
    assert steps.group(1).count("<li>") == 7
    for words in [
        "Try to fix it in the pharmacy",
        "Care Identity Service",
        "Registration Authority",
        "involves the LPC",
        "escalates to Community Pharmacy England",
    ]:
        assert words in steps.group(1)


def test_it_offers_anonymous_visitors_a_start_button_to_log_in(client, db):
    page = client.get("/").content.decode()

    assert re.search(r'<a\s+class="nhsuk-button"[^>]*href="/login/"[^>]*>\s*Log in to start\s*</a>', page)


def test_it_offers_logged_in_users_to_report_a_problem_and_search(client, staff, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)
    client.force_login(staff)

    page = client.get("/").content.decode()

    assert re.search(r'href="/issues/report/"[^>]*>\s*Report a Smartcard problem', page, re.S)
    assert re.search(r'href="/directory/"[^>]*>\s*Search the directory', page, re.S)
    assert "Log in to start" not in page


def test_it_offers_reporting_only_to_pharmacy_teams(client, cpe_it, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=True)
    client.force_login(cpe_it)

    page = client.get("/").content.decode()

    assert "Report a Smartcard problem" not in page
    assert "Search the directory" in page


def test_it_leaves_out_the_report_button_until_reporting_exists(client, staff, settings):
    settings.ROOT_URLCONF = _site(with_issue_pages=False)
    client.force_login(staff)

    page = client.get("/").content.decode()

    assert "Report a Smartcard problem" not in page
    assert "Search the directory" in page


# NHS.UK frontend's stylesheet, compiled from its Sass with its own settings (scss/, `make setup`)


def _compiled_css(name: str) -> str:
    found = finders.find(f"build/{name}")
    assert isinstance(found, str), f"static/build/{name} is missing: `make setup` builds it"
    return Path(found).read_text(encoding="utf-8-sig")  # sass starts compressed non-ASCII CSS with a BOM


def _selectors(css: str) -> set[str]:
    """Every selector of a stylesheet, whatever its formatting (compressed or not, ::before or :before)."""
    css = re.sub(r"/\*.*?\*/|@charset[^;]*;", "", css, flags=re.S)
    return {
        re.sub(r"\s*([>+~])\s*", r"\1", re.sub(r"\s+", " ", selector.strip()))
        .replace("::before", ":before")
        .replace("::after", ":after")
        for rule in re.findall(r"([^{}]+)\{[^{}]*\}", css)
        for selector in rule.split(",")
        if not selector.strip().startswith("@")
    }


def _font_faces(css: str) -> list[str]:
    return re.findall(r"@font-face\s*\{[^}]*\}", css)


UPSTREAM_CSS = settings.NODE_MODULES / "nhsuk-frontend" / "dist" / "nhsuk" / "nhsuk-frontend.css"


def test_it_compiles_nhsuk_frontend_without_the_web_font_and_text_in_arial():
    css = _compiled_css("nhsuk-frontend.css")

    assert _font_faces(css) == []
    assert "assets.nhs.uk" not in css
    assert re.search(r'html\{[^}]*font-family:"Frutiger W01",arial,sans-serif', css)


def test_it_compiles_every_rule_of_nhsuk_frontends_own_stylesheet():
    upstream = UPSTREAM_CSS.read_text()

    for name in ("nhsuk-frontend.css", "nhsuk-frontend-nhs-fonts.css"):
        compiled = _selectors(_compiled_css(name))
        assert compiled == _selectors(upstream), name
        assert {".nhsuk-header", ".nhsuk-button", ".nhsuk-summary-list", ".nhsuk-error-summary"} <= compiled


def test_it_compiles_the_variant_with_the_nhs_web_font_like_nhsuk_frontends_own():
    css = _compiled_css("nhsuk-frontend-nhs-fonts.css")

    assert _font_faces(css)
    assert len(_font_faces(css)) == len(_font_faces(UPSTREAM_CSS.read_text()))
    for face in _font_faces(css):
        assert re.findall(r"url\(([^)]+)\)", face)
        assert all(
            url.strip("\"'").startswith("https://assets.nhs.uk/fonts/") for url in re.findall(r"url\(([^)]+)\)", face)
        )


def test_it_refers_only_to_images_of_nhsuk_frontend_served_at_assets():
    for name in ("nhsuk-frontend.css", "nhsuk-frontend-nhs-fonts.css"):
        css = re.sub(r"@font-face\s*\{[^}]*\}", "", _compiled_css(name))
        urls = [url.strip("\"'") for url in re.findall(r"url\(([^)]+)\)", css)]
        images = [url for url in urls if not url.startswith("data:")]
        assert images, name
        for url in images:
            assert url.startswith("/assets/images/"), url
            assert (settings.NHSUK_ASSETS_DIR / url.removeprefix("/assets/")).is_file(), url


NHS_FONTS_PAGE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/")
print(json.dumps({"status": response.status_code, "csp": response["Content-Security-Policy"],
                  "page": response.content.decode()}))
"""


@pytest.mark.parametrize(
    ("nhs_fonts", "stylesheet", "font_src"),
    [
        ("True", "/static/build/nhsuk-frontend-nhs-fonts.css", "'self' https://assets.nhs.uk"),
        ("False", "/static/build/nhsuk-frontend.css", "'self'"),
        ("", "/static/build/nhsuk-frontend.css", "'self'"),
    ],
)
def test_it_loads_the_nhs_web_font_only_with_nhs_fonts_on(tmp_path, nhs_fonts, stylesheet, font_src):
    result = run_python(NHS_FONTS_PAGE, tmp_path, DEBUG="True", ALLOWED_HOSTS="testserver", NHS_FONTS=nhs_fonts)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["status"] == 200
    assert f'<link rel="stylesheet" href="{stylesheet}">' in values["page"]
    assert f"font-src {font_src};" in values["csp"] + ";"
