"""The accessibility sweep (issue 10, part 6): every page of the URL configuration, as each persona
who may see it, opened in Chromium and checked by axe-core for WCAG 2.2 AA and best practice (zero
violations); and every page with a table fits a 375 px wide screen without scrolling sideways.

The pages come from the URL resolver, as the access matrix's do (tests/test_access_matrix.PATTERNS),
and the matrix's table (tests/access/routes.py) says how to build each URL and who may read it, so a
new route is swept by itself. A route the sweep cannot open (it answers JSON, a file, or takes POST
only) is in NOT_OPENED with the reason, or the sweep fails. The Django admin is swept as the
superuser sees it, every model's list, add, change, history and delete pages; the API reference
(Swagger UI) with every operation and schema opened.

One test per persona (spread over pytest-xdist's workers), one browser context per test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db.models import Model
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.authtoken.models import Token

from directory.models import User
from smartcard_route.mail.models import OutboundEmail
from tests.access.routes import ADMIN, API, PAGE, PUBLIC, WEBHOOK, may
from tests.access.world import PERSONAS, World, build_world
from tests.e2e.browser import log_in, run_axe
from tests.issues.factories import UserFactory
from tests.test_access_matrix import PATTERNS, route_for, url_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 375
DESKTOP = {"width": 1280, "height": 900}
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"

# Routes the sweep does not open in a browser, and why. Routes of the JSON API, webhooks and
# POST-only pages (the matrix's ok is 405 alone) are known by their kind; these are the rest.
NOT_OPENED = {
    "healthz": "JSON for the load balancer",
    "logout": "takes POST only (the header's Log out button)",
    "issues:export_csv": "a CSV download",
    "issues:inbound_attachment": "a file download (an RA's attachment)",
    "cases:evidence_pack": "a file download (the evidence pack)",
    "issues:unreadable_post": "a file download (the raw body of a post nobody could read)",
    "api-schema": "the OpenAPI schema (YAML or JSON); its page is /api/docs/, which is swept",
    "admin:logout": "takes POST only",
    "admin:jsi18n": "JavaScript (the admin's translations)",
    "admin:autocomplete": "JSON for the admin's autocomplete fields",
    "admin:view_on_site": "a redirect to the object's page on the site, which is swept",
}


def reason_not_opened(name: str) -> str | None:
    if name in NOT_OPENED:
        return NOT_OPENED[name]
    if name.startswith("admin:") and name.endswith("/<path:object_id>/"):
        return "the admin's redirect from an object's address to its change page, which is swept"
    if name.startswith("admin:") and name.endswith("(?P<url>.*)$"):
        return "the admin's catch-all (an added slash, or its 404)"
    route = route_for(name)
    if route.kind == API:
        # JSON only (the browsable API is off: docs/api.md). Its reference page, /api/docs/, is swept.
        return "the JSON API (schemathesis checks it against its schema)"
    if route.kind == WEBHOOK:
        return "an email provider's webhook"
    if route.ok == frozenset({405}):
        return "takes POST only"
    return None


@dataclass(frozen=True)
class Visit:
    name: str  # the route's name
    label: str  # the object it names ("-" for none)
    url: str
    # what the page may answer, after redirects: 200, or the matrix's other answers for a reader (a
    # 400 page asking for what is missing); the API reference answers 403 to anonymous visitors
    statuses: frozenset[int] = frozenset({200})
    open_operations: bool = False  # the API reference with every operation opened


# The pages each persona opens -------------------------------------------------------------------


def site_pages(world: World, persona: str) -> Iterator[Visit]:
    for pattern in PATTERNS:
        if pattern.name.startswith("admin:") or reason_not_opened(pattern.name):
            continue
        route = route_for(pattern.name)
        assert route.kind in (PAGE, PUBLIC), pattern.name
        statuses = (route.ok | {200}) - {302}
        for label, kwargs in route.objects(world).items():
            url = url_for(pattern, {**kwargs, "action": route.actions[0]} if route.actions else dict(kwargs))
            if persona == "anonymous":
                if route.kind == PUBLIC:
                    yield Visit(pattern.name, label, url, statuses)
                elif route.anonymous is not None:
                    yield Visit(pattern.name, label, url, frozenset({route.anonymous}))
            elif may(route.read, persona, label):
                # The API reference is the same for everyone (the whole schema): opened once, by CPE IT.
                yield Visit(pattern.name, label, url, statuses, pattern.name == "api-docs" and persona == "cpe_it")


ADMIN_MODEL_VIEW = re.compile(r"admin:(?P<model>[a-z0-9]+_[a-z0-9]+)_(?P<view>\w+)$")


def admin_pages(superuser: User) -> Iterator[Visit]:
    """Every admin page the superuser can open: the index, each app, each model's pages (with the
    first object of the model for the pages that name one), and the password pages."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    registry = {f"{m._meta.app_label}_{m._meta.model_name}": (m, ma) for m, ma in admin.site._registry.items()}
    for pattern in PATTERNS:
        if not pattern.name.startswith("admin:") or reason_not_opened(pattern.name):
            continue
        if pattern.name == "admin:app_list":
            for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
                yield Visit(pattern.name, app_label, reverse(pattern.name, kwargs={"app_label": app_label}))
            continue
        if pattern.name in ("admin:index", "admin:password_change", "admin:password_change_done"):
            yield Visit(pattern.name, "-", reverse(pattern.name))
            continue
        if pattern.name == "admin:login":
            continue  # the superuser is sent on to the index; anonymous visitors see it
        match = ADMIN_MODEL_VIEW.match(pattern.name)
        assert match, f"an admin page the sweep does not know: {pattern.name}"
        # Django's UserAdmin names its password page auth_user_..., whatever the user model's app.
        key = "directory_user" if match["model"] == "auth_user" else match["model"]
        assert key in registry, f"an admin page the sweep does not know: {pattern.name}"
        model, model_admin = registry[key]
        view = match["view"]
        if view == "add" and not model_admin.has_add_permission(request):
            continue  # the admin offers no add page for it (403)
        obj = _first(model)
        if view == "delete" and not model_admin.has_delete_permission(request, obj):
            continue  # the admin offers no delete page for it (403)
        kwargs = {name: obj.pk for name in re.findall(r"<(?:\w+:)?(\w+)>", pattern.pattern)}
        yield Visit(pattern.name, key, reverse(pattern.name, kwargs=kwargs))


def admin_rows(superuser: User) -> None:
    """A row of each model the admin shows and the world has none of (its change pages need one)."""
    Group.objects.create(name="Directory helpers")
    Token.objects.create(user=superuser)
    seen = {"user_agent": "Chromium", "ip_address": "192.0.2.1", "username": "x@example.org", "path_info": "/login/"}
    AccessAttempt.objects.create(**seen, http_accept="*/*", get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**seen, http_accept="*/*")
    AccessLog.objects.create(**seen, http_accept="*/*")
    if not OutboundEmail.objects.exists():
        OutboundEmail.objects.create(
            purpose="ra_request",
            from_email="a@example.org",
            to=["b@example.org"],
            subject="A",
            body_text="A.",
            message_id="<a@b>",
        )


def _first(model: type[Model]) -> Model:
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the sweep's world has no {model.__name__} for its admin pages"
    return obj


# The checks on each page ------------------------------------------------------------------------


def open_every_operation(page: Any) -> None:
    """Swagger UI: open every operation and the list of schemas, so axe sees what a reader opens."""
    page.locator(".swagger-ui .opblock-summary").first.wait_for()
    for closed in (
        ".swagger-ui .opblock-summary-control[aria-expanded=false]",
        ".swagger-ui section.models .models-control[aria-expanded=false]",
    ):
        control = page.locator(closed)
        for _ in range(200):  # more than the schema has
            if not control.count():
                break
            control.first.click()
    page.locator(".swagger-ui .opblock-body").last.wait_for()


def check(page: Any, visit: Visit) -> list[str]:
    """The page's problems: a wrong status or type, axe's violations, a table wider than a phone."""
    response = page.goto(visit.url)
    where = f"{visit.name} [{visit.label}] {visit.url}"
    if response is None or response.status not in visit.statuses:
        return [f"{where}: answered {response and response.status}, not {sorted(visit.statuses)}"]
    if "text/html" not in (response.headers.get("content-type") or ""):
        return [f"{where}: not an HTML page (list it in NOT_OPENED with the reason)"]
    if visit.name == "api-docs" and response.status == 200:
        page.locator(".swagger-ui .opblock-summary").first.wait_for()  # Swagger UI has drawn the schema
    if visit.open_operations:
        open_every_operation(page)
    problems = [f"{where}:\n{report}" for report in run_axe(page)]
    if page.locator("table").count():
        page.set_viewport_size({"width": PHONE_WIDTH, "height": DESKTOP["height"]})
        page.evaluate(NEXT_FRAMES)  # what redraws on a resize (the figures' charts) has redrawn
        width = int(page.evaluate("document.documentElement.scrollWidth"))
        if width > PHONE_WIDTH:
            problems.append(f"{where}: {width} px wide on a {PHONE_WIDTH} px screen (it has a table)")
        page.set_viewport_size(DESKTOP)
    return problems


# The tests --------------------------------------------------------------------------------------


@pytest.fixture
def world(settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = tmp_path
    return build_world()


def sweep(browser: Any, live_server: Any, visits: list[Visit], email: str | None) -> None:
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    try:
        page = context.new_page()
        if email:
            log_in(page, email)
        problems = [problem for visit in visits for problem in check(page, visit)]
    finally:
        context.close()
    assert visits
    assert not problems, f"{len(problems)} problem(s) on {len(visits)} page(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_a_persona_may_see_is_accessible(browser: Any, live_server: Any, world: World, persona: str) -> None:
    visits = list(site_pages(world, persona))
    if persona == "anonymous":
        visits.append(Visit("admin:login", "-", reverse("admin:login")))
    sweep(browser, live_server, visits, None if persona == "anonymous" else world.users[persona].email)


def test_every_admin_page_the_superuser_uses_is_accessible(browser: Any, live_server: Any, world: World) -> None:
    superuser = UserFactory.create(email="super@cpe.example", full_name="Sue Super", is_staff=True, is_superuser=True)
    admin_rows(superuser)
    sweep(browser, live_server, list(admin_pages(superuser)), superuser.email)


def test_it_opens_every_route_or_says_why_not() -> None:
    """Every route is swept for some persona, or has a reason it is not; no reason is stale."""
    names = {pattern.name for pattern in PATTERNS}
    assert not sorted(set(NOT_OPENED) - names), "NOT_OPENED names routes the URL configuration no longer has"
    for pattern in PATTERNS:
        if reason_not_opened(pattern.name):
            continue
        route = route_for(pattern.name)
        if route.kind == ADMIN:
            continue  # admin_pages fails for an admin page it does not know
        readers = route.read if isinstance(route.read, frozenset) else {"some"}
        assert route.kind == PUBLIC or readers or route.anonymous, f"nobody opens {pattern.name}"
