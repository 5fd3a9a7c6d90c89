"""Suggested groups (issues.selectors.cases.case_suggestions): the same RA and kind, from enough
distinct pharmacies, reported in the last N days, open, not in a case; CPE IT's only; two queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from issues import services
from issues.models import CaseSuggestionsSnapshot, Issue, Kind, State
from issues.selectors.cases import case_suggestions, work_out_case_suggestions
from issues.services.suggestions import case_suggestions_refresh
from tests.issues.factories import IssueFactory, PharmacyFactory, RegistrationAuthorityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.CASE_SUGGESTION_MIN_PHARMACIES = 3
    settings.CASE_SUGGESTION_WITHIN_DAYS = 30


@pytest.fixture
def ra():
    return RegistrationAuthorityFactory.create(name="Leeds RA")


def reported(pharmacy, *, days_ago: float = 1, kind: str = Kind.LOCKED, state: str = State.RA_CONTACTED) -> Issue:
    issue = IssueFactory.create(pharmacy=pharmacy, kind=kind, state=state)
    Issue.objects.filter(pk=issue.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    issue.refresh_from_db()
    return issue


def test_it_suggests_a_group_from_three_pharmacies_with_one_ra_and_kind(cpe_it, ra):
    issues = [reported(PharmacyFactory.create(ra=ra), days_ago=n + 1) for n in range(3)]
    [suggestion] = case_suggestions(user=cpe_it)
    assert suggestion.ra_id == ra.pk and suggestion.kind == Kind.LOCKED and suggestion.pharmacies == 3
    assert suggestion.references == [issue.reference for issue in issues]  # newest first
    assert suggestion.newest == issues[0].created_at and suggestion.oldest == issues[2].created_at
    assert suggestion.title == f"{Kind.LOCKED.label} at Leeds RA"


def test_it_counts_distinct_pharmacies_not_issues(cpe_it, ra):
    one, two = PharmacyFactory.create(ra=ra), PharmacyFactory.create(ra=ra)
    for _ in range(3):
        reported(one)
    reported(two)
    assert case_suggestions(user=cpe_it) == []
    reported(PharmacyFactory.create(ra=ra))
    [suggestion] = case_suggestions(user=cpe_it)
    assert suggestion.pharmacies == 3 and len(suggestion.references) == 5


def test_it_leaves_out_other_kinds_other_ras_old_closed_and_grouped_issues(cpe_it, ra):
    pharmacies = [PharmacyFactory.create(ra=ra) for _ in range(3)]
    reported(pharmacies[0])
    reported(pharmacies[1])
    reported(pharmacies[2], kind=Kind.READER_SOFTWARE)  # another kind
    reported(PharmacyFactory.create(), kind=Kind.LOCKED)  # another RA
    reported(pharmacies[2], days_ago=31)  # outside the window
    reported(pharmacies[2], state=State.RESOLVED)  # fixed
    reported(pharmacies[2], state=State.WITHDRAWN)
    reported(PharmacyFactory.create(ra=None))  # no RA
    grouped = reported(pharmacies[2])
    assert len(case_suggestions(user=cpe_it)) == 1
    services.case_create(user=cpe_it, title="T", description="", issues=[grouped])
    assert case_suggestions(user=cpe_it) == []


def test_it_reads_its_thresholds_from_settings(cpe_it, ra, settings):
    for days_ago in (1, 10, 20):
        reported(PharmacyFactory.create(ra=ra), days_ago=days_ago)
    settings.CASE_SUGGESTION_WITHIN_DAYS = 15
    assert case_suggestions(user=cpe_it) == []
    settings.CASE_SUGGESTION_WITHIN_DAYS = 30
    settings.CASE_SUGGESTION_MIN_PHARMACIES = 4
    assert case_suggestions(user=cpe_it) == []
    settings.CASE_SUGGESTION_MIN_PHARMACIES = 2
    assert len(case_suggestions(user=cpe_it)) == 1


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer", "outsider", "directory_manager"])
def test_it_suggests_nothing_to_anyone_but_cpe_it(request, persona, pharmacy, ra):
    pharmacy.ra = ra
    pharmacy.save()
    reported(pharmacy, state=State.LPC_CC)
    reported(PharmacyFactory.create(ra=ra, lpc=pharmacy.lpc), state=State.LPC_CC)
    reported(PharmacyFactory.create(ra=ra, lpc=pharmacy.lpc), state=State.LPC_CC)
    assert case_suggestions(user=request.getfixturevalue(persona)) == []


def test_it_groups_200_issues_in_two_queries(cpe_it, django_assert_num_queries):
    ras = [RegistrationAuthorityFactory.create() for _ in range(4)]
    pharmacies = [PharmacyFactory.create(ra=ras[n % 4]) for n in range(20)]
    for n in range(200):
        reported(pharmacies[n % 20], kind=[Kind.LOCKED, Kind.NEW_CARD][n % 2])
    with django_assert_num_queries(2):
        suggestions = work_out_case_suggestions()
        assert sum(len(s.references) for s in suggestions) == 200
    # Each pharmacy's issues are of one kind (its number's parity), so each RA makes one group.
    assert len(suggestions) == 4 and all(s.pharmacies == 5 and len(s.references) == 50 for s in suggestions)


# The worker's copy (issues.services.suggestions) ------------------------------------------------


def test_the_pages_read_the_workers_groups_less_what_changed_since(cpe_it, ra, django_assert_num_queries):
    grouped = [reported(PharmacyFactory.create(ra=ra), days_ago=n + 1) for n in range(5)]
    snapshot = case_suggestions_refresh()
    assert CaseSuggestionsSnapshot.objects.get() == snapshot
    with django_assert_num_queries(3):  # the worker's latest, its groups, and which issues still count
        [suggestion] = case_suggestions(user=cpe_it)
    with django_assert_num_queries(2):  # its groups are read once per process: it is never changed
        assert case_suggestions(user=cpe_it) == [suggestion]
    assert suggestion.as_at == snapshot.computed_at and suggestion.pharmacies == 5
    assert suggestion.references == [issue.reference for issue in grouped]

    # Reported after the refresh: not in the group until the next one.
    late = reported(PharmacyFactory.create(ra=ra), days_ago=0.1)
    assert late.reference not in case_suggestions(user=cpe_it)[0].references
    # Grouped into a case, or closed, since: left out at once, and the pharmacies counted again.
    services.case_create(user=cpe_it, title="Locked at Leeds", description="", issues=[grouped[0]])
    Issue.objects.filter(pk=grouped[1].pk).update(state=State.RESOLVED)
    [suggestion] = case_suggestions(user=cpe_it)
    assert suggestion.pharmacies == 3
    assert suggestion.references == [issue.reference for issue in grouped[2:]]
    assert case_suggestions(user=cpe_it, limit=5) == [suggestion]
    # The next refresh is a new snapshot, read afresh: the late issue joins its group.
    case_suggestions_refresh()
    [suggestion] = case_suggestions(user=cpe_it)
    assert sorted(suggestion.references) == sorted(issue.reference for issue in [*grouped[2:], late])


def test_a_group_left_with_too_few_pharmacies_is_no_longer_suggested(cpe_it, ra):
    grouped = [reported(PharmacyFactory.create(ra=ra), days_ago=n + 1) for n in range(3)]
    case_suggestions_refresh()
    services.case_create(user=cpe_it, title="Locked at Leeds", description="", issues=[grouped[0]])
    assert case_suggestions(user=cpe_it) == []
    # The next refresh finds them as the rows stand, the issue reported since included.
    reported(PharmacyFactory.create(ra=ra), days_ago=0.1)
    case_suggestions_refresh()
    [suggestion] = case_suggestions(user=cpe_it)
    assert suggestion.pharmacies == 3 and grouped[0].reference not in suggestion.references


def test_the_workers_groups_are_cpe_its_alone(staff, lpc_officer, ra):
    [reported(PharmacyFactory.create(ra=ra)) for _ in range(3)]
    case_suggestions_refresh()
    assert case_suggestions(user=staff) == [] and case_suggestions(user=lpc_officer) == []


def test_the_worker_keeps_one_copy_and_the_task_runs_it(ra):
    from issues.tasks import refresh_case_suggestions

    [reported(PharmacyFactory.create(ra=ra)) for _ in range(3)]
    case_suggestions_refresh()
    assert refresh_case_suggestions() == 1
    assert CaseSuggestionsSnapshot.objects.count() == 1


def test_a_group_below_takes_the_place_of_one_that_lost_issues(cpe_it):
    """The groups are checked `limit` at a time (issues.selectors.cases._still_suggested): one
    further down is checked too once those above may have fallen below it."""
    first, second = RegistrationAuthorityFactory.create(name="First RA"), RegistrationAuthorityFactory.create()
    fallen = [reported(PharmacyFactory.create(ra=first)) for _ in range(5)]
    risen = [reported(PharmacyFactory.create(ra=second), days_ago=2) for _ in range(4)]
    case_suggestions_refresh()
    assert [s.ra_id for s in case_suggestions(user=cpe_it, limit=1)] == [first.pk]
    services.case_create(user=cpe_it, title="Locked", description="", issues=fallen[:2])
    [top] = case_suggestions(user=cpe_it, limit=1)
    assert top.ra_id == second.pk and top.references == [issue.reference for issue in reversed(risen)]
    assert [(s.ra_id, s.pharmacies) for s in case_suggestions(user=cpe_it, limit=2)] == [(second.pk, 4), (first.pk, 3)]


def test_groups_the_worker_has_not_refreshed_for_three_rounds_are_worked_out_again(cpe_it, ra, settings):
    """A stopped worker leaves an old copy: the page works the groups out from the rows instead."""
    settings.CASE_SUGGESTIONS_REFRESH_MINUTES = 5
    grouped = [reported(PharmacyFactory.create(ra=ra), days_ago=n + 1) for n in range(3)]
    case_suggestions_refresh(now=timezone.now() - timedelta(minutes=16))
    late = reported(PharmacyFactory.create(ra=ra), days_ago=0.1)
    [suggestion] = case_suggestions(user=cpe_it)
    assert late.reference in suggestion.references and suggestion.pharmacies == 4
    assert suggestion.as_at is not None and suggestion.as_at > timezone.now() - timedelta(minutes=1)
    assert grouped[0].reference in suggestion.references
