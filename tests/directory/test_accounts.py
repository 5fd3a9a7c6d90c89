"""Logging in, lock-out, logging out, password reset, and login-by-default for every page."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RoutePattern

from directory.accounts.tasks import password_reset_send
from directory.models import User

PASSWORD = "correct-horse-battery-staple"
NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice@pharmacy.example", PASSWORD, full_name="Alice Patel")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob@pharmacy.example", PASSWORD, full_name="Bob Jones")


def _log_in(client, email: str, password: str, **extra):
    return client.post(reverse("login"), {"username": email, "password": password, **extra})


def _logged_in_user_id(client) -> str | None:
    return client.session.get(SESSION_KEY)


# Logging in


def test_it_logs_in_with_email_and_password(client, alice):
    response = _log_in(client, "alice@pharmacy.example", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("landing")  # by role: tests/issues/test_landing.py
    assert _logged_in_user_id(client) == str(alice.pk)


def test_it_accepts_the_email_address_in_any_case_and_with_spaces(client, alice):
    _log_in(client, "  Alice@Pharmacy.EXAMPLE ", PASSWORD)

    assert _logged_in_user_id(client) == str(alice.pk)


def test_it_goes_on_to_the_page_asked_for(client, alice):
    response = _log_in(client, alice.email, PASSWORD, next="/directory/")

    assert response["Location"] == "/directory/"


def test_it_labels_the_username_as_the_email_address(client, db):
    page = client.get(reverse("login")).content.decode()

    assert re.search(r'<label[^>]*for="id_username"[^>]*>\s*Email address\s*</label>', page)
    assert 'name="username"' in page
    assert 'name="password"' in page


def test_it_shows_a_wrong_password_in_the_error_summary_and_inline(client, alice):
    response = _log_in(client, alice.email, "not-the-password")

    page = response.content.decode()
    assert response.status_code == 200
    assert _logged_in_user_id(client) is None
    assert "<title>Error: Log in \u2013 Smartcard Route</title>" in page
    summary = re.search(r'<div\s+class="nhsuk-error-summary".*?</ul>', page, re.S)
    assert summary is not None
    assert 'href="#id_username"' in summary.group(0)
    assert "Enter the email address and password of your Smartcard Route account" in summary.group(0)
    assert re.search(r'class="nhsuk-error-message" id="id_username-error"', page)
    assert 'value="alice@pharmacy.example"' in page
    assert "not-the-password" not in page


def test_it_asks_for_each_missing_field(client, db):
    page = _log_in(client, "", "").content.decode()

    assert "Enter your email address" in page
    assert "Enter your password" in page
    assert 'href="#id_password"' in page


def test_it_refuses_a_closed_account(client, alice):
    alice.is_active = False
    alice.save()

    response = _log_in(client, alice.email, PASSWORD)

    assert response.status_code == 200
    assert _logged_in_user_id(client) is None


def test_it_sends_a_logged_in_user_from_the_login_page_home(client, alice):
    client.force_login(alice)

    response = client.get(reverse("login"))

    assert response.status_code == 302
    assert response["Location"] == reverse("landing")


# Lock-out (django-axes)


def _fail_until_locked(client, email: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, email, "wrong-password")


def test_it_locks_the_account_out_after_repeated_failures(client, alice):
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _log_in(client, alice.email, "wrong-password").status_code == 200, attempt

    response = _log_in(client, alice.email, "wrong-password")

    assert response.status_code == 429
    page = response.content.decode()
    assert "You cannot log in for now" in page
    assert "Try again in 15 minutes" in page
    assert 'class="nhsuk-header' in page


def test_it_refuses_even_the_right_password_while_locked_out(client, alice):
    _fail_until_locked(client, alice.email)

    response = _log_in(client, alice.email, PASSWORD)

    assert response.status_code == 429
    assert _logged_in_user_id(client) is None


def test_it_counts_failures_whatever_the_case_of_the_address(client, alice):
    for spelling in ["ALICE@pharmacy.example", "Alice@Pharmacy.Example", "alice@PHARMACY.example"] * 2:
        _log_in(client, spelling, "wrong-password")

    assert _log_in(client, alice.email, PASSWORD).status_code == 429


def test_it_does_not_lock_out_other_accounts(client, alice, bob):
    _fail_until_locked(client, alice.email)

    _log_in(client, bob.email, PASSWORD)

    assert _logged_in_user_id(client) == str(bob.pk)


def test_it_lets_a_locked_out_user_in_after_a_password_reset(client, alice):
    _fail_until_locked(client, alice.email)
    password_reset_send(email=alice.email)

    _choose_new_password(client, _reset_link(mail.outbox[0].body))

    assert _log_in(client, alice.email, NEW_PASSWORD).status_code == 302
    assert _logged_in_user_id(client) == str(alice.pk)


# Logging out


def test_it_logs_out_with_a_post(client, alice):
    client.force_login(alice)

    response = client.post(reverse("logout"), follow=True)

    assert _logged_in_user_id(client) is None
    assert response.redirect_chain[-1][0] == reverse("login")
    assert "You have logged out" in response.content.decode()


def test_it_does_not_log_out_on_a_get(client, alice):
    client.force_login(alice)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert _logged_in_user_id(client) == str(alice.pk)


def test_it_shows_a_log_out_button_in_the_header(client, alice):
    client.force_login(alice)

    page = client.get(reverse("home")).content.decode()

    form = re.search(r'<form class="nhsuk-header__account-form" method="post" action="/logout/".*?</form>', page, re.S)
    assert form is not None
    assert 'name="csrfmiddlewaretoken"' in form.group(0)
    assert "Log out" in form.group(0)
    assert "Alice Patel" in page


# Password reset


def _reset_link(body: object) -> str:
    match = re.search(r"https?://\S+/password-reset/\S+/", str(body))
    assert match is not None, body
    return match.group(0)


def _choose_new_password(client, link: str):
    path = link.split("://", 1)[1].split("/", 1)[1]
    form_page = client.get("/" + path, follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]
    return client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def test_it_emails_a_reset_link_in_text_and_html(alice, settings):
    settings.SITE_URL = "https://smartcard-route.example.org"

    assert password_reset_send(email="ALICE@pharmacy.example") is True

    (message,) = mail.outbox
    assert message.to == ["alice@pharmacy.example"]
    assert message.subject == "Reset your Smartcard Route password"
    assert _reset_link(message.body).startswith("https://smartcard-route.example.org/password-reset/")
    assert "Hello Alice Patel" in message.body
    assert isinstance(message, EmailMultiAlternatives)
    ((content, mimetype),) = message.alternatives
    html = str(content)
    assert mimetype == "text/html"
    assert _reset_link(message.body) in html
    assert "&amp;#" not in html


def test_it_writes_names_as_they_are_in_the_text_part_and_escaped_in_the_html(db):
    User.objects.create_user("aoife@pharmacy.example", PASSWORD, full_name="Aoife O'Brien <Pharmacist>")

    password_reset_send(email="aoife@pharmacy.example")

    (message,) = mail.outbox
    assert "Hello Aoife O'Brien <Pharmacist>," in message.body
    assert isinstance(message, EmailMultiAlternatives)
    assert "Hello Aoife O&#39;Brien &lt;Pharmacist&gt;," in str(message.alternatives[0][0])


def test_it_sends_nothing_to_an_unknown_or_closed_account(alice, bob):
    bob.is_active = False
    bob.save()

    password_reset_send(email="nobody@pharmacy.example")
    password_reset_send(email=bob.email)

    assert mail.outbox == []


def test_it_changes_the_password_through_the_link(client, alice):
    password_reset_send(email=alice.email)

    response = _choose_new_password(client, _reset_link(mail.outbox[0].body))

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_it_refuses_a_reset_link_used_before(client, alice):
    password_reset_send(email=alice.email)
    link = _reset_link(mail.outbox[0].body)
    _choose_new_password(client, link)

    page = client.get("/" + link.split("://", 1)[1].split("/", 1)[1], follow=True).content.decode()

    assert "This link does not work" in page


def test_it_explains_a_weak_or_mismatched_new_password(client, alice):
    password_reset_send(email=alice.email)
    link = _reset_link(mail.outbox[0].body)
    form_page = client.get("/" + link.split("://", 1)[1].split("/", 1)[1], follow=True)
    set_password_url = form_page.redirect_chain[-1][0]

    mismatch = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": "something-else-1"})
    too_short = client.post(set_password_url, {"new_password1": "short", "new_password2": "short"})

    assert "The passwords do not match" in mismatch.content.decode()
    assert 'href="#id_new_password2"' in mismatch.content.decode()
    assert "too short" in too_short.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_it_asks_for_a_well_formed_address(client, db):
    response = client.post(reverse("password_reset"), {"email": "not an address"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter an email address in the correct format, like name@example.com" in page
    assert "There is a problem" in page


def _wait_for_mail(count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count:
        assert time.monotonic() < deadline, f"waited for {count} email(s), got {len(mail.outbox)}"
        time.sleep(0.05)


@pytest.mark.celery_worker
def test_it_sends_the_reset_email_from_the_worker_not_the_request(client, alice, celery_worker_thread):
    unknown = client.post(reverse("password_reset"), {"email": "nobody@pharmacy.example"})
    known = client.post(reverse("password_reset"), {"email": alice.email})

    # Both answers are the same: the page does not tell whether the account exists.
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == reverse("password_reset_done")
    # The worker takes tasks in order: once the second has sent its email, the first is done too.
    _wait_for_mail(1)
    assert [message.to for message in mail.outbox] == [[alice.email]]
    assert _choose_new_password(client, _reset_link(mail.outbox[0].body)).status_code == 302


# Login by default


PUBLIC_URL_NAMES = {
    "home",
    "healthz",
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "admin:login",  # Django's admin login form, behind the same lock-out
    "metrics",  # Prometheus' scrape: its own bearer token or address allow-list (404 while off)
    "cis2_login",  # sign-in with NHS CIS2 (404 while off), and where CIS2 sends the person back
    "cis2_callback",
}


def _url_patterns(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_patterns(pattern, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def _is_webhook(pattern: URLPattern) -> bool:
    return pattern.callback.__module__.startswith("anymail.") or "webhook" in pattern.callback.__module__


def _example_url(name: str, pattern: URLPattern) -> str | None:
    """A URL for the pattern, with made-up values for its parameters (the object need not exist)."""
    if isinstance(pattern.pattern, RoutePattern):
        parameters = list(pattern.pattern.converters)
    else:
        parameters = list(pattern.pattern.regex.groupindex)
    candidates = ["1", "x", "FA123", str(uuid.uuid4()), "SC-000001", "CASE-00001"]
    for value in candidates:
        kwargs = {parameter: "json" if parameter == "format" else value for parameter in parameters}
        try:
            return reverse(name, kwargs=kwargs or None)
        except NoReverseMatch:
            continue
    return None


def test_it_keeps_only_the_start_login_password_reset_health_and_webhooks_open():
    open_views = {
        name
        for name, pattern in _url_patterns()
        if getattr(pattern.callback, "login_required", True) is False
        and not _is_webhook(pattern)
        and not reverse_path_is_api(name, pattern)
    }

    assert open_views <= PUBLIC_URL_NAMES, open_views - PUBLIC_URL_NAMES


def reverse_path_is_api(name: str, pattern: URLPattern) -> bool:
    url = _example_url(name, pattern)
    return url is not None and url.startswith("/api/")


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_of_every_other_page_to_log_in(client):
    checked = 0
    for name, pattern in _url_patterns():
        url = _example_url(name, pattern)
        if url is None or name in PUBLIC_URL_NAMES or _is_webhook(pattern):
            continue
        response = client.get(url)
        checked += 1
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), (url, response.status_code)
        else:
            assert response.status_code == 302, (url, response.status_code)
            login_page, _, query = response["Location"].partition("?")
            # The admin sends visitors to its own login form, behind the same lock-out.
            assert resolve(login_page).view_name in ("login", "admin:login"), (url, response["Location"])
            assert query.startswith("next="), (url, response["Location"])
    assert checked >= 2


def test_it_shows_the_public_pages_without_a_login(client, db):
    for name in ["home", "login", "password_reset", "password_reset_done", "password_reset_complete"]:
        assert client.get(reverse(name)).status_code == 200, name


def test_it_keeps_the_account_pages_at_their_addresses():
    # Accounts (directory.accounts) are not namespaced; the reminder-emails page of issues has its own
    # namespace on the /account/ paths. Links in mail already sent point at these addresses.
    assert reverse("login") == "/login/"
    assert reverse("logout") == "/logout/"
    assert reverse("password_reset") == "/password-reset/"
    assert reverse("password_reset_done") == "/password-reset/sent/"
    assert reverse("password_reset_confirm", args=["MQ", "set-password"]) == "/password-reset/MQ/set-password/"
    assert reverse("password_reset_complete") == "/password-reset/done/"
    assert reverse("notifications:notification_preferences") == "/account/notifications/"
    assert reverse("notifications:notification_preferences_save") == "/account/notifications/save/"
