"""'Report wrong or missing details' on RA and LPC pages, the email to the directory manager (through
the mail layer's outbox), and the directory manager's queue."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from directory.models import CorrectionReport, RegistrationAuthority
from directory.services import correction_report_create
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import SendOutcome, outbound_email_send
from smartcard_route.mail.tasks import requeue_stuck_outbound_emails, send_outbound_email
from tests.issues.factories import LPCFactory, RegistrationAuthorityFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGER_EMAIL = "manager@directory.example"


class FailingEmailBackend:
    """An email provider that is down."""

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("the email provider is unreachable")


@pytest.fixture(autouse=True)
def manager_address(settings):
    settings.DIRECTORY_MANAGER_EMAIL = MANAGER_EMAIL


@pytest.fixture
def ra(db):
    return RegistrationAuthorityFactory(name="North Riding ICB Registration Authority")


@pytest.fixture
def report(ra, staff):
    return correction_report_create(reporter=staff, target=ra, details="The phone number is now 0113 496 0999.")


def email_of(report: CorrectionReport) -> OutboundEmail:
    """The report's email to the directory manager (its outbox row)."""
    assert report.email is not None
    return report.email


def report_page(target) -> str:
    name = "directory:ra_report" if isinstance(target, RegistrationAuthority) else "directory:lpc_report"
    return reverse(name, args=[target.pk])


def test_it_records_a_report_and_emails_the_manager_after_commit(client, staff, ra, django_capture_on_commit_callbacks):
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(report_page(ra), {"details": "  The phone number is now 0113 496 0999.  "})

    assert response.status_code == 302
    assert response["Location"] == reverse("directory:ra_detail", args=[ra.pk])
    report = CorrectionReport.objects.get()
    assert (report.ra, report.lpc, report.reporter) == (ra, None, staff)
    assert report.details == "The phone number is now 0113 496 0999."
    assert report.status == CorrectionReport.Status.OPEN
    ra.refresh_from_db()
    assert ra.needs_checking
    assert len(callbacks) == 1  # the task is enqueued after the commit...
    assert mail.outbox == []  # ...and nothing is sent inside the request

    assert email_of(report).purpose == "correction_report"
    assert send_outbound_email(email_of(report).pk) == "sent"  # the outbox's task, as the worker runs it

    (message,) = mail.outbox
    assert message.to == [MANAGER_EMAIL]
    assert message.reply_to == [staff.email]
    assert message.subject == "Directory correction reported: North Riding ICB Registration Authority"
    assert "The phone number is now 0113 496 0999." in message.body
    assert staff.email in message.body
    assert reverse("directory:correction_reports") in message.body
    assert isinstance(message, EmailMultiAlternatives)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "The phone number is now 0113 496 0999." in str(html)


def test_it_thanks_the_reporter_on_the_ra_page(client, staff, ra):
    client.force_login(staff)

    response = client.post(report_page(ra), {"details": "Wrong email"}, follow=True)

    assert "The directory manager has your report" in response.content.decode()


def test_it_records_a_report_about_an_lpc(client, staff):
    lpc = LPCFactory(name="Community Pharmacy West Pennine")
    client.force_login(staff)

    client.post(report_page(lpc), {"details": "The LPC moved to a new office."})

    report = CorrectionReport.objects.get()
    assert (report.ra, report.lpc) == (None, lpc)
    send_outbound_email(email_of(report).pk)
    assert mail.outbox[0].subject == "Directory correction reported: Community Pharmacy West Pennine"


def test_it_emails_the_manager_once_however_often_the_task_runs(report):
    assert send_outbound_email(email_of(report).pk) == "sent"
    assert send_outbound_email(email_of(report).pk) == "not_claimed"

    assert len(mail.outbox) == 1
    assert OutboundEmail.objects.get(pk=email_of(report).pk).status == OutboundEmail.Status.SENT


@override_settings(EMAIL_BACKEND="tests.directory.test_correction_reports.FailingEmailBackend")
def test_it_releases_its_claim_when_sending_fails_so_a_retry_sends_it(report, settings):
    result = outbound_email_send(email_id=email_of(report).pk)
    assert result.outcome is SendOutcome.RETRY  # the task retries it, with backoff
    assert "ConnectionRefusedError" in result.error
    assert OutboundEmail.objects.get(pk=email_of(report).pk).status == OutboundEmail.Status.QUEUED

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_outbound_email(email_of(report).pk) == "sent"
    assert len(mail.outbox) == 1


def test_it_sends_later_the_email_of_reports_whose_task_was_lost(
    ra, staff, time_machine, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES = 10
    time_machine.move_to(timezone.now())
    report = correction_report_create(reporter=staff, target=ra, details="The phone number is now 0113 496 0999.")
    sent_already = correction_report_create(reporter=staff, target=ra, details="Sent already")
    send_outbound_email(email_of(sent_already).pk)
    mail.outbox.clear()
    time_machine.shift(timedelta(minutes=8))
    recent = correction_report_create(reporter=staff, target=ra, details="Reported a moment ago")
    time_machine.shift(timedelta(minutes=3))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert requeue_stuck_outbound_emails() == 1  # the outbox's beat task
    assert len(callbacks) == 1
    send_outbound_email(email_of(report).pk)  # the task it enqueued, as the worker runs it

    (message,) = mail.outbox
    assert report.details in message.body
    assert OutboundEmail.objects.get(pk=email_of(report).pk).status == OutboundEmail.Status.SENT
    # its own task may still be on its way
    assert OutboundEmail.objects.get(pk=email_of(recent).pk).status == OutboundEmail.Status.QUEUED


@pytest.mark.parametrize("details", ["", "   "])
def test_it_shows_an_error_summary_and_saves_nothing_when_the_details_are_missing(client, staff, ra, details):
    client.force_login(staff)

    response = client.post(report_page(ra), {"details": details})

    content = response.content.decode()
    assert response.status_code == 400
    assert "nhsuk-error-summary" in content
    assert '<a href="#id_details"' in content
    assert "Enter what is wrong or missing" in content
    assert "nhsuk-form-group--error" in content
    assert CorrectionReport.objects.count() == 0
    ra.refresh_from_db()
    assert not ra.needs_checking


def test_it_refuses_details_that_are_too_long(client, staff, ra):
    client.force_login(staff)

    response = client.post(report_page(ra), {"details": "x" * 2001})

    assert response.status_code == 400
    assert "2000 characters or fewer" in response.content.decode()
    assert CorrectionReport.objects.count() == 0


def test_it_shows_the_manager_the_open_reports(client, directory_manager, report, django_assert_max_num_queries):
    for n in range(30):
        CorrectionReport.objects.create(ra=report.ra, reporter=report.reporter, details=f"Detail {n}")
    client.force_login(directory_manager)

    with django_assert_max_num_queries(7):
        response = client.get(reverse("directory:correction_reports"))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Open (31)" in content
    assert "The phone number is now 0113 496 0999." in content
    # Each report links to its own page, where the manager edits the entry and marks it done.
    assert reverse("directory:correction_report_detail", args=[report.pk]) in content


def test_it_lets_the_manager_mark_a_report_done(client, directory_manager, report):
    client.force_login(directory_manager)

    response = client.post(reverse("directory:correction_report_done", args=[report.pk]), follow=True)

    report.refresh_from_db()
    assert report.status == CorrectionReport.Status.DONE
    assert report.resolved_by == directory_manager
    assert report.resolved_at is not None
    content = response.content.decode()
    assert "Marked done" in content
    assert "There are no open correction reports." in content


def test_it_says_when_a_report_was_already_done(client, directory_manager, report):
    client.force_login(directory_manager)
    url = reverse("directory:correction_report_done", args=[report.pk])
    client.post(url)
    first_resolved_at = CorrectionReport.objects.get().resolved_at

    response = client.post(url, follow=True)

    assert "was already marked done" in response.content.decode()
    assert CorrectionReport.objects.get().resolved_at == first_resolved_at


def test_it_only_marks_done_on_post(client, directory_manager, report):
    client.force_login(directory_manager)

    response = client.get(reverse("directory:correction_report_done", args=[report.pk]))

    assert response.status_code == 405
    assert CorrectionReport.objects.get().status == CorrectionReport.Status.OPEN


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer", "cpe_it", "outsider"])
def test_it_hides_the_manager_pages_from_everyone_else(client, request, report, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("directory:correction_reports")).status_code == 404
    assert client.post(reverse("directory:correction_report_done", args=[report.pk])).status_code == 404
    assert CorrectionReport.objects.get().status == CorrectionReport.Status.OPEN


def test_it_answers_404_for_an_unknown_report(client, directory_manager):
    client.force_login(directory_manager)

    assert client.post(reverse("directory:correction_report_done", args=[999999])).status_code == 404


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_it_emails_the_manager_through_a_real_worker(client, celery_worker_thread):
    reporter = UserFactory(email="reporter@pharmacy.example")
    ra = RegistrationAuthorityFactory()
    client.force_login(reporter)

    client.post(report_page(ra), {"details": "The RA's portal address changed."})

    deadline = time.monotonic() + 20
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [message.to for message in mail.outbox] == [[MANAGER_EMAIL]]
    assert email_of(CorrectionReport.objects.get()).status == OutboundEmail.Status.SENT


def test_it_keeps_the_report_when_there_is_no_manager_to_email(ra, staff, settings):
    settings.DIRECTORY_MANAGER_EMAIL = ""

    report = correction_report_create(reporter=staff, target=ra, details="The RA moved.")

    assert CorrectionReport.objects.get() == report
    assert report.email is None
    assert not OutboundEmail.objects.exists()
