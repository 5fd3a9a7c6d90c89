"""XSS attempts in free text render as text: markup stored in an issue's summary and details, a
note, a correction report, a case's title and an inbound email's subject is shown escaped on every
page that shows it (and in the text of the RA request), never as markup."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from directory.models import CorrectionReport
from issues.models import Issue, IssueEvent, SystemicCase
from tests.access.world import build_world
from tests.hostile.strategies import XSS

pytestmark = pytest.mark.django_db
RAW = ("<script>alert", "<img src=x onerror", "<svg/onload")


def _assert_escaped(body: str, where: str) -> None:
    for raw in RAW:
        assert raw not in body, f"{where}: {raw} as markup"
    assert "&lt;script&gt;alert" in body or "&lt;script&gt;" in body, f"{where}: the text is not shown"


def test_it_shows_markup_typed_into_free_text_as_text() -> None:
    world = build_world()
    issue = world.objects["issue_a"]
    Issue.objects.filter(pk=issue.pk).update(summary=XSS, details=XSS, contact_name=XSS)
    IssueEvent.objects.create(issue=issue, kind="note", text=XSS, actor=world.users["staff_a"])
    SystemicCase.objects.filter(pk=world.objects["case"].pk).update(title=XSS, description=XSS)
    CorrectionReport.objects.filter(pk=world.objects["correction_report"].pk).update(details=XSS)
    unmatched = world.objects["unmatched"]
    type(unmatched).objects.filter(pk=unmatched.pk).update(subject=XSS)
    pages = [
        ("staff_a", reverse("issues:detail", kwargs={"reference": issue.reference})),
        ("staff_a", reverse("issues:list")),
        ("officer_a", reverse("dashboards:lpc")),
        ("cpe_it", reverse("cases:detail", kwargs={"reference": world.objects["case"].reference})),
        ("cpe_it", reverse("cases:list")),
        ("cpe_it", reverse("issues:unmatched_mail")),
        ("directory_manager", reverse("directory:correction_reports")),
    ]
    for persona, url in pages:
        client = Client()
        client.force_login(world.users[persona])
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_escaped(response.content.decode(), f"{persona} {url}")
