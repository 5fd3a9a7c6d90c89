"""What the issue pages share: the signed-in user, the issue in their scope (404 outside it), and
the status of a refused action."""

from __future__ import annotations

from django.http import HttpRequest

from directory.models import User
from issues import selectors
from issues.exceptions import IssueActionForbidden, IssueServiceError
from issues.models import Issue


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _issue_or_404(request: HttpRequest, reference: str) -> Issue:
    return selectors.issue_get_visible(user=_user(request), reference=reference)


def _status_for(error: IssueServiceError) -> int:
    """403 when the user may not do it at all, 409 when not now or someone else was first."""
    return 403 if isinstance(error, IssueActionForbidden) else 409
