"""The scoping selector and the list helpers: who sees what, filters, and constant query counts."""

from __future__ import annotations

import pytest
from django.http import Http404

from issues import services
from issues.models import Issue, State
from issues.selectors import (
    issue_allowed_actions,
    issue_counts,
    issue_get_visible,
    issue_list,
    issues_visible_to,
    pharmacies_for_reporting,
)
from tests.issues.factories import IssueFactory, PharmacyFactory, UserFactory


def visible(user) -> set[int]:
    return set(issues_visible_to(user).values_list("pk", flat=True))


def test_it_shows_staff_the_issues_of_their_pharmacies_only(issue, staff, outsider):
    assert visible(staff) == {issue.pk}
    assert visible(outsider) == set()


def test_it_shows_owners_every_pharmacy_they_own(pharmacy, owner, issue):
    sister = PharmacyFactory.create(owner=pharmacy.owner)
    other = IssueFactory.create(pharmacy=sister)
    IssueFactory.create()  # someone else's pharmacy
    assert visible(owner) == {issue.pk, other.pk}


def test_it_shows_the_lpc_officer_only_issues_the_lpc_is_involved_in(pharmacy, lpc_officer, staff, owner):
    not_yet = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    cc = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    IssueFactory.create(state=State.LPC_CC)  # another LPC's area
    assert visible(lpc_officer) == set()

    services.issue_cc_lpc(user=owner, issue=cc)
    assert visible(lpc_officer) == {cc.pk}

    # Still visible once resolved: the LPC was involved.
    services.issue_resolve(user=staff, issue=cc, note="Sorted", fixed_by_step="lpc")
    assert visible(lpc_officer) == {cc.pk}
    assert not_yet.pk not in visible(lpc_officer)


def test_it_shows_cpe_it_everything(issue, cpe_it):
    IssueFactory.create()
    assert visible(cpe_it) == set(Issue.objects.values_list("pk", flat=True))


def test_it_shows_the_directory_manager_no_issue(issue, directory_manager):
    assert visible(directory_manager) == set()


def test_it_shows_the_union_of_several_roles_without_duplicates(pharmacy, staff, issue):
    pharmacy.owner.members.add(staff)
    pharmacy.lpc.officers.add(staff)
    IssueFactory.create(pharmacy=pharmacy, state=State.LPC_CC)
    assert issues_visible_to(staff).count() == 2


def test_it_shows_an_inactive_or_anonymous_user_nothing(issue, staff):
    from django.contrib.auth.models import AnonymousUser

    assert visible(AnonymousUser()) == set()
    staff.is_active = False
    staff.save()
    assert visible(staff) == set()


def test_it_answers_404_outside_scope(issue, staff, outsider):
    assert issue_get_visible(user=staff, reference=issue.reference) == issue
    assert issue_get_visible(user=staff, reference=issue.reference.lower()) == issue
    with pytest.raises(Http404):
        issue_get_visible(user=outsider, reference=issue.reference)
    with pytest.raises(Http404):
        issue_get_visible(user=staff, reference="not-a-reference")
    with pytest.raises(Http404):
        issue_get_visible(user=staff, reference="SC-999999")


def test_it_lists_with_a_constant_number_of_queries(pharmacy, owner, django_assert_max_num_queries):
    for _ in range(3):
        sister = PharmacyFactory.create(owner=pharmacy.owner)
        IssueFactory.create_batch(10, pharmacy=sister)

    with django_assert_max_num_queries(2):  # the user's roles (once: kept on the user) and the page
        rows = [
            (i.reference, i.pharmacy.name, str(i.pharmacy.ra), str(i.pharmacy.lpc), i.reporter.full_name)
            for i in issue_list(user=owner)[:50]
        ]
    assert len(rows) == 30
    with django_assert_max_num_queries(1):
        counts = issue_counts(user=owner)
    assert counts.by_state[State.IN_PHARMACY] == 30


def test_it_lists_the_actions_of_the_issue_page(issue, staff, outsider, pharmacy):
    """In the route table's order; no RA reply before the RA was asked (issues.route.RA_ASKED)."""
    assert issue_allowed_actions(user=staff, issue=issue) == [
        "try_cis",
        "contact_ra",
        "phone_call",
        "resolve",
        "withdraw",
        "note",
    ]
    asked = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    assert issue_allowed_actions(user=staff, issue=asked) == ["ra_reply", "phone_call", "resolve", "withdraw", "note"]
    assert issue_allowed_actions(user=outsider, issue=issue) == []


def test_it_offers_reporting_for_pharmacies_worked_at_or_owned(pharmacy, staff, owner, outsider):
    assert list(pharmacies_for_reporting(user=staff)) == [pharmacy]
    sister = PharmacyFactory.create(owner=pharmacy.owner)
    assert set(pharmacies_for_reporting(user=owner)) == {pharmacy, sister}
    assert pharmacy not in pharmacies_for_reporting(user=outsider)
    assert not pharmacies_for_reporting(user=UserFactory.create()).exists()
