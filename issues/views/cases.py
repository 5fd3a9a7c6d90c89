"""The systemic case pages (/cases/, CPE IT's alone: 404 for anyone else): the list, a new case
from a selection of issues or an accepted suggestion (a confirmation page listing them), the
case page and its actions, the suggestions, and the evidence pack.

Every read goes through issues.selectors.cases, every write through issues.services (the case
services); bad input is the error summary with status 400, a refused change a message (403/409).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory.models import User
from issues import case_rules, services
from issues.case_forms import CASE_ACTION_FORMS, CASE_ACTION_LABELS, CaseDetailsForm, CaseForm, CaseListFilterForm
from issues.evidence_pack import evidence_pack_response
from issues.exceptions import IssueServiceError
from issues.models import Issue, SystemicCase, parse_reference
from issues.selectors import cases as case_selectors
from issues.selectors import issue_list
from issues.views.lists import issue_rows
from issues.views.shared import _status_for
from smartcard_route.pagination import paginate

PAGE_SIZE = 25
MAX_SELECTION = 200


def _cpe_it(request: HttpRequest) -> User:
    user: Any = request.user
    if not case_selectors.may_see_cases(user):
        raise Http404("No such page.")
    return user  # type: ignore[no-any-return]


def _case_or_404(request: HttpRequest, reference: str) -> SystemicCase:
    return case_selectors.case_get_visible(user=_cpe_it(request), reference=reference)


@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    user = _cpe_it(request)
    form = CaseListFilterForm(request.GET)
    valid = form.is_valid()
    cases = case_selectors.case_list(user=user, status=form.cleaned_data.get("status") if valid else None)
    page, pagination = paginate(request, cases if valid else SystemicCase.objects.none(), PAGE_SIZE)
    context = {"form": form, "page": page, "pagination": pagination}
    return render(request, "issues/cases/list.jinja", context, status=200 if valid else 400)


def _selected(user: User, references: list[str]) -> list[Issue]:
    """The issues a selection names, as far as the user can see them (the service checks again)."""
    pks = [pk for pk in (parse_reference(ref) for ref in references[:MAX_SELECTION]) if pk]
    return list(issue_list(user=user).filter(pk__in=pks).select_related("case_link__case"))


@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    """The confirmation page of a new case: the issues chosen (from the list's checkboxes or a
    suggestion, as ?issue=SC-...&issue=...), a title and a description; POST opens the case."""
    user = _cpe_it(request)
    data = request.POST if request.method == "POST" else request.GET
    references = data.getlist("issue")
    form = CaseDetailsForm(request.POST if request.method == "POST" else None, initial={"title": data.get("title", "")})
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_create(user=user, issues=references, **form.service_fields())
        except ValidationError as error:
            form.present(error)
        except IssueServiceError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Systemic case {case.reference} opened.")
            return redirect("cases:detail", reference=case.reference)
    context = {"form": form, "rows": issue_rows(_selected(user, references)), "references": references}
    return render(request, "issues/cases/new.jinja", context, status=400 if form.errors else 200)


def _render_case(
    request: HttpRequest, case: SystemicCase, *, bound: CaseForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    forms = []
    for action in case_rules.case_allowed_actions(case.status):
        if action == case_rules.REMOVE_ISSUE:
            continue  # a button beside each issue
        form_class = CASE_ACTION_FORMS[action]
        is_open = bound is not None and bound.prefix == action
        initial = {"title": case.title, "description": case.description} if action == case_rules.EDIT else None
        title, button = CASE_ACTION_LABELS[action]
        form = bound if is_open and bound is not None else form_class(prefix=action, initial=initial)
        forms.append({"name": action, "title": title, "button": button, "form": form, "open": is_open})
    issues = list(case_selectors.case_issues(case=case))
    context = {
        "case": case,
        "rows": issue_rows(issues),
        "ras": sorted({issue.pharmacy.ra.name for issue in issues if issue.pharmacy.ra}),
        "kinds": sorted({issue.get_kind_display() for issue in issues}),
        "events": case_selectors.case_events(case=case),
        "forms": forms,
        "bound": bound,
        "may_remove": case_rules.case_action_allowed(case_rules.REMOVE_ISSUE, case.status),
        "error": error,
    }
    return render(request, "issues/cases/detail.jinja", context, status=status)


@require_GET
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_case(request, _case_or_404(request, reference))


# The service of each action of the case page, by its name.
CASE_ACTION_SERVICES: dict[str, Any] = {
    case_rules.ADD_ISSUES: services.case_add_issues,
    case_rules.REMOVE_ISSUE: services.case_remove_issue,
    case_rules.EDIT: services.case_edit,
    case_rules.HIGHLIGHT: services.case_record_highlight,
    case_rules.GUIDANCE: services.case_record_guidance,
    case_rules.CLOSE: services.case_close,
}


@require_POST
def case_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    user = _cpe_it(request)
    case = _case_or_404(request, reference)
    if action not in CASE_ACTION_FORMS:
        raise Http404("No such action.")
    form = CASE_ACTION_FORMS[action](request.POST, prefix=action)
    if not form.is_valid():
        return _render_case(request, case, bound=form, status=400)
    try:
        CASE_ACTION_SERVICES[action](user=user, case=case, **form.service_fields())
    except ValidationError as error:
        form.present(error)
        return _render_case(request, case, bound=form, status=400)
    except IssueServiceError as error:
        return _render_case(request, case, error=error.message, status=_status_for(error))
    messages.success(request, f"{CASE_ACTION_LABELS[action][0]}: done.")
    return redirect("cases:detail", reference=case.reference)


@require_GET
def case_suggestions(request: HttpRequest) -> HttpResponse:
    user = _cpe_it(request)
    context = {
        "suggestions": case_selectors.case_suggestions(user=user),
        "settings_min_pharmacies": settings.CASE_SUGGESTION_MIN_PHARMACIES,
        "settings_within_days": settings.CASE_SUGGESTION_WITHIN_DAYS,
    }
    return render(request, "issues/cases/suggestions.jinja", context)


@require_GET
def case_evidence_pack(request: HttpRequest, reference: str) -> FileResponse:
    """The evidence pack, always a download, built in a spooled file and streamed from it."""
    user = _cpe_it(request)
    case = _case_or_404(request, reference)
    evidence = case_selectors.case_evidence(user=user, case=case)
    return evidence_pack_response(evidence)
