"""The issue pages: report a problem, the issue page and its actions, contact the RA, the lists.

Every read goes through issues.selectors (scoped to the user: 404 outside it), every write
through issues.services; a refused action or a lost race is shown as a message, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory.models import Pharmacy, User
from issues import forms as issue_forms
from issues import guidance, presentation, route, selectors, services, windows
from issues.emails import RaRequest, default_ra_question, issue_ra_request_preview
from issues.exceptions import IssueActionForbidden, IssueServiceError
from issues.models import Deadline, Issue, Kind, State, kind_needs_ra
from issues.route import SEND_VIA_OWN_MAIL
from smartcard_route.pagination import paginate


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _issue_or_404(request: HttpRequest, reference: str) -> Issue:
    return selectors.issue_get_visible(user=_user(request), reference=reference)


def _status_for(error: IssueServiceError) -> int:
    """403 when the user may not do it at all, 409 when not now or someone else was first."""
    return 403 if isinstance(error, IssueActionForbidden) else 409


@login_not_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The start page: the route in a few lines, and the way in for each role."""
    return render(request, "home.jinja", {"ra_window": windows.window_in_words(Deadline.RA_REPLY, is_emergency=False)})


# Report a Smartcard problem: question pages, the answers kept in the session until the end ------

REPORT_SESSION_KEY = "issues:report"
REPORT_STEPS = ("pharmacy", "kind", "tried", "details", "check")
STEP_FORMS: dict[str, type[issue_forms.NhsukForm]] = {
    "pharmacy": issue_forms.PharmacyStepForm,
    "kind": issue_forms.KindStepForm,
    "tried": issue_forms.TriedStepForm,
    "details": issue_forms.DetailsStepForm,
}
STEP_DONE_WHEN = {"pharmacy": "pharmacy", "kind": "kind", "tried": "tried_in_pharmacy", "details": "summary"}


def _reporting_pharmacies(user: User) -> QuerySet[Pharmacy]:
    return selectors.pharmacies_for_reporting(user=user)


def _wizard(request: HttpRequest, pharmacies: QuerySet[Pharmacy]) -> dict[str, Any]:
    """The answers so far; the pharmacy is answered for the user who has only one."""
    answers: dict[str, Any] = dict(request.session.get(REPORT_SESSION_KEY, {}))
    choices = list(pharmacies.values_list("pk", flat=True)[:2])
    if len(choices) == 1:
        answers["pharmacy"] = choices[0]
    elif answers.get("pharmacy") not in set(pharmacies.values_list("pk", flat=True)):
        answers.pop("pharmacy", None)
    return answers


def _asks_tried(answers: dict[str, Any]) -> bool:
    """A kind only the RA can fix goes straight to the RA: nobody is asked what they tried."""
    return not kind_needs_ra(answers.get("kind", ""))


def _report_steps(answers: dict[str, Any], *, several_pharmacies: bool = True) -> list[str]:
    """The question pages this report asks, in order, ending with "check": the pharmacy only of a
    user with several, "what did you try" only of a kind the pharmacy may fix itself."""
    return [
        step
        for step in REPORT_STEPS
        if (step != "pharmacy" or several_pharmacies) and (step != "tried" or _asks_tried(answers))
    ]


def _first_unanswered(answers: dict[str, Any]) -> str:
    for step in _report_steps(answers)[:-1]:
        if STEP_DONE_WHEN[step] not in answers:
            return step
    return "check"


def _step_url(step: str, *, change: bool = False) -> str:
    url = reverse("issues:report_step", kwargs={"step": step})
    return f"{url}?change=1" if change else url


def _step_form(step: str, *, data: Any = None, answers: dict[str, Any], pharmacies: Any) -> issue_forms.NhsukForm:
    form_class = STEP_FORMS[step]
    kwargs: dict[str, Any] = {"pharmacies": pharmacies} if step == "pharmacy" else {}
    if data is not None:
        return form_class(data, **kwargs)
    if step == "details":
        return form_class(initial=issue_forms.DetailsStepForm.from_session(answers), **kwargs)
    return form_class(initial=answers, **kwargs)


def _neighbour_step(step: str, answers: dict[str, Any], *, several_pharmacies: bool, offset: int) -> str | None:
    """The question page before (offset -1) or after (+1) `step` in this report, if any."""
    steps = _report_steps(answers, several_pharmacies=several_pharmacies)
    index = steps.index(step) + offset
    return steps[index] if 0 <= index < len(steps) else None


@require_http_methods(["GET"])
def report_start(request: HttpRequest) -> HttpResponse:
    """A fresh report: forget any half-answered one, and go to the first question."""
    request.session.pop(REPORT_SESSION_KEY, None)
    pharmacies = _reporting_pharmacies(_user(request))
    if not pharmacies.exists():
        return render(request, "issues/report/no_pharmacy.jinja", status=403)
    return redirect(_step_url(_first_unanswered(_wizard(request, pharmacies))))


@require_http_methods(["GET", "POST"])
def report_step(request: HttpRequest, step: str) -> HttpResponse:
    if step not in REPORT_STEPS:
        raise Http404("No such step")
    user = _user(request)
    pharmacies = _reporting_pharmacies(user)
    if not pharmacies.exists():
        return render(request, "issues/report/no_pharmacy.jinja", status=403)
    answers = _wizard(request, pharmacies)
    first_unanswered = _first_unanswered(answers)
    if step not in _report_steps(answers) or REPORT_STEPS.index(step) > REPORT_STEPS.index(first_unanswered):
        return redirect(_step_url(first_unanswered))
    if step == "check":
        return _report_check(request, user=user, answers=answers, pharmacies=pharmacies)

    changing = request.GET.get("change") == "1"
    several = pharmacies.count() > 1
    form = _step_form(
        step, data=request.POST if request.method == "POST" else None, answers=answers, pharmacies=pharmacies
    )
    if step == "details" and not form.is_bound:
        form.initial.setdefault("contact_name", user.full_name)
        form.initial.setdefault("contact_phone", user.phone)
    if request.method == "POST" and form.is_valid():
        answers.update(form.to_session())  # type: ignore[attr-defined]
        if not _asks_tried(answers):
            answers.pop("tried_in_pharmacy", None)  # never asked of this kind, so never kept
        request.session[REPORT_SESSION_KEY] = answers
        if changing:
            # Back to "check", unless the change asks a question not answered yet (a new kind).
            unanswered = _first_unanswered(answers)
            return redirect(_step_url(unanswered, change=unanswered != "check"))
        following = _neighbour_step(step, answers, several_pharmacies=several, offset=1)
        return redirect(_step_url(following or "check"))
    previous = _neighbour_step(step, answers, several_pharmacies=several, offset=-1)
    context = {
        "form": form,
        "step": step,
        "answers": answers,
        "back_url": _step_url("check") if changing else (_step_url(previous) if previous else reverse("issues:list")),
        **_step_context(step, answers=answers, pharmacies=pharmacies),
    }
    return render(request, f"issues/report/{step}.jinja", context, status=400 if form.is_bound else 200)


def _step_context(step: str, *, answers: dict[str, Any], pharmacies: Any) -> dict[str, Any]:
    """What each question page shows besides its form: the choices and the guidance."""
    if step == "pharmacy":
        return {
            "pharmacy_items": [
                {
                    "value": str(pharmacy.pk),
                    "text": pharmacy.name,
                    "hint": {"text": f"{pharmacy.ods_code}, {pharmacy.postcode}".strip(", ")},
                }
                for pharmacy in pharmacies
            ]
        }
    if step == "kind":
        return {
            "kind_items": [
                {"value": kind.value, "text": kind.label, "hint": {"text": guidance.kind_hint(kind.value)}}
                for kind in Kind
            ]
        }
    if step == "tried":
        return {
            "kind_label": Kind(answers["kind"]).label,
            "in_pharmacy": guidance.in_pharmacy_steps(answers["kind"]),
        }
    if step == "details":
        return {
            "emergency_items": [{"value": "yes", "text": "Yes"}, {"value": "no", "text": "No"}],
            "emergency_window": windows.window_in_words(Deadline.RA_REPLY, is_emergency=True),
        }
    return {}


def _report_fields(answers: dict[str, Any], pharmacies: QuerySet[Pharmacy]) -> tuple[dict[str, Any], str | None]:
    """All answers checked again by their forms: (the issue_report arguments, the first step to redo)."""
    fields: dict[str, Any] = {}
    for step in _report_steps(answers)[:-1]:
        data = issue_forms.DetailsStepForm.from_session(answers) if step == "details" else answers
        form = _step_form(step, data=data, answers=answers, pharmacies=pharmacies)
        if not form.is_valid():
            return {}, step
        fields.update(form.cleaned_data)
    fields["is_emergency"] = fields["is_emergency"] == "yes"
    fields["no_card_yet"] = bool(fields["no_card_yet"])
    return fields, None


def _report_check(
    request: HttpRequest, *, user: User, answers: dict[str, Any], pharmacies: QuerySet[Pharmacy]
) -> HttpResponse:
    fields, redo = _report_fields(answers, pharmacies)
    if redo:
        return redirect(_step_url(redo))
    errors: list[dict[str, str]] = []
    status = 200
    if request.method == "POST":
        try:
            issue = services.issue_report(user=user, **fields)
        except ValidationError as error:
            errors = [{"text": message} for message in error.messages]
            status = 400
        except IssueServiceError as error:
            errors = [{"text": error.message}]
            status = _status_for(error)
        else:
            request.session.pop(REPORT_SESSION_KEY, None)
            return redirect("issues:reported", reference=issue.reference)
    several = pharmacies.count() > 1
    context = {
        "fields": fields,
        "kind_label": Kind(fields["kind"]).label,
        "asks_tried": _asks_tried(fields),
        "smartcard_number": presentation.format_smartcard_number(fields["smartcard_number"]),
        "several_pharmacies": several,
        "errors": errors,
        "back_url": _step_url("details"),
        "change_url": lambda step: _step_url(step, change=True),
    }
    return render(request, "issues/report/check.jinja", context, status=status)


@require_http_methods(["GET"])
def report_done(request: HttpRequest, reference: str) -> HttpResponse:
    """The confirmation: what to do now, and the way on. A problem only the RA can fix, and an
    emergency, lead to Contact the RA."""
    user = _user(request)
    issue = _issue_or_404(request, reference)
    to_the_ra = kind_needs_ra(issue.kind) or issue.is_emergency
    context = {
        "issue": issue,
        "guidance": guidance.guidance_for(issue=issue, user=user),
        "contact_ra_first": to_the_ra and "contact_ra" in selectors.issue_allowed_transitions(user=user, issue=issue),
    }
    return render(request, "issues/report/done.jinja", context)


# The issue page and its actions --------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    issue: Issue,
    *,
    bound: issue_forms.NhsukForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    roles = selectors.issue_roles(user=user, issue=issue)
    allowed = selectors.issue_allowed_actions(user=user, issue=issue)
    open_action = bound.prefix if bound is not None else None
    actions = []
    for row in route.ROUTE:
        if row.name not in allowed or row.own_page:
            continue
        is_open = row.name == open_action
        form = bound if is_open else issue_forms.ACTION_FORMS[row.name](prefix=row.name, roles=roles)
        actions.append(
            {
                "action": {"name": row.name, "title": row.label.title, "button": row.label.button},
                "form": form,
                "open": is_open,
            }
        )
    now = timezone.now()
    context = {
        "issue": issue,
        "tag": presentation.status_tag(issue),
        "deadline": presentation.deadline_text(issue, now=now),
        "overdue": presentation.is_overdue(issue, now=now),
        "guidance": guidance.guidance_for(issue=issue, user=user, now=now),
        "may_contact_ra": "contact_ra" in allowed,
        "contact_ra_title": route.CONTACT_RA.label.title,
        "actions": actions,
        "events": selectors.issue_events(issue=issue),
        "state_labels": presentation.status_labels_by_state(issue),
        "smartcard_number": presentation.format_smartcard_number(issue.smartcard_number),
        "error": error,
    }
    return render(request, "issues/detail.jinja", context, status=status)


@require_http_methods(["GET"])
def issue_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_detail(request, _issue_or_404(request, reference))


@require_POST
def issue_action(request: HttpRequest, reference: str, action: str) -> HttpResponse:
    """One row of the route table taken from its form on the issue page: its service, by name."""
    user = _user(request)
    issue = _issue_or_404(request, reference)
    row = route.ACTIONS.get(action)
    if row is None or row.own_page:
        raise Http404("No such action")
    roles = selectors.issue_roles(user=user, issue=issue)
    form = issue_forms.ACTION_FORMS[row.name](request.POST, prefix=row.name, roles=roles)
    fields = form.service_fields()
    try:
        services.ACTION_SERVICES[row.name](user=user, issue=issue, **fields)
    except ValidationError as error:
        form.present(error)
        return _render_detail(request, _issue_or_404(request, reference), bound=form, status=400)
    except IssueServiceError as error:
        # The service saved nothing: show the issue as it is now, with the reason.
        issue = _issue_or_404(request, reference)
        return _render_detail(request, issue, error=error.message, status=_status_for(error))
    messages.success(request, row.label.success_for(fields))
    return redirect("issues:detail", reference=issue.reference)


# Contact the RA --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def contact_ra(request: HttpRequest, reference: str) -> HttpResponse:
    """The prepared request to the RA: sent from the app, or from the user's own mail and confirmed."""
    user = _user(request)
    issue = _issue_or_404(request, reference)
    row = route.CONTACT_RA
    if row.name not in selectors.issue_allowed_transitions(user=user, issue=issue):
        messages.error(request, f"You cannot {row.label.verb} about this issue at this stage.")
        return redirect("issues:detail", reference=issue.reference)
    form_class = issue_forms.ACTION_FORMS[row.name]
    roles = selectors.issue_roles(user=user, issue=issue)
    if request.method == "GET":
        initial = {
            "question": default_ra_question(issue),
            "contact_name": issue.contact_name,
            "contact_phone": issue.contact_phone,
            "smartcard_number": presentation.format_smartcard_number(issue.smartcard_number),
            "no_card_yet": issue.no_card_yet,
        }
        form = form_class(initial=initial, roles=roles)
        return _render_contact_ra(request, issue, form, preview=issue_ra_request_preview(issue=issue))
    form = form_class(request.POST, roles=roles)
    fields = form.service_fields()
    try:
        if fields.get("send_via") == SEND_VIA_OWN_MAIL and request.POST.get("confirmed") != "yes":
            preview = services.issue_contact_ra_preview(user=user, issue=issue, **fields)
            return _render_contact_ra(
                request, issue, form, preview=preview, template="issues/contact_ra_own_mail.jinja"
            )
        services.issue_contact_ra(user=user, issue=issue, **fields)
    except ValidationError as error:
        form.present(error)
        issue = _issue_or_404(request, reference)
        return _render_contact_ra(request, issue, form, preview=issue_ra_request_preview(issue=issue), status=400)
    except IssueServiceError as error:
        issue = _issue_or_404(request, reference)
        return _render_detail(request, issue, error=error.message, status=_status_for(error))
    messages.success(request, row.label.success_for(fields))
    return redirect("issues:detail", reference=issue.reference)


def _render_contact_ra(
    request: HttpRequest,
    issue: Issue,
    form: issue_forms.ActionForm,
    *,
    preview: RaRequest,
    status: int = 200,
    template: str = "issues/contact_ra.jinja",
) -> HttpResponse:
    context = {
        "issue": issue,
        "form": form,
        "preview": preview,
        "ra_window": windows.window_in_words(Deadline.RA_REPLY, is_emergency=issue.is_emergency),
        "request_guidance": guidance.ra_request_guidance(issue),
        "ra": issue.pharmacy.ra,
        "no_ra": "ra" in preview.missing,
        "no_ra_email": "ra_email" in preview.missing,
        "report_missing_url": _report_missing_url(issue),
    }
    return render(request, template, context, status=status)


def _report_missing_url(issue: Issue) -> str | None:
    """Where to tell the directory manager that the pharmacy's RA is missing or wrong."""
    ra_id = issue.pharmacy.ra_id
    lpc_id = issue.pharmacy.lpc_id
    if ra_id is not None:
        return _url_or_none("directory:ra_report", ra_id)
    if lpc_id is not None:
        return _url_or_none("directory:lpc_report", lpc_id)
    return None


def _url_or_none(viewname: str, *args: Any) -> str | None:
    try:
        return reverse(viewname, args=args)
    except NoReverseMatch:
        return None


# Lists and dashboards --------------------------------------------------------------------------

PAGE_SIZE = 25
DASHBOARD_SIZE = 50


def _rows(issues: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "issue": issue,
            "tag": presentation.status_tag(issue),
            "age": presentation.age_in_words(issue, now=now),
            "deadline": presentation.deadline_text(issue, now=now),
            "overdue": presentation.is_overdue(issue, now=now),
        }
        for issue in issues
    ]


@require_http_methods(["GET"])
def issue_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = issue_forms.IssueFilterForm(request.GET or None)
    issues = selectors.issue_list(user=user, **form.filters())
    page, pagination = paginate(request, issues, PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        "rows": _rows(page.object_list),
        "pagination": pagination,
        "may_report": selectors.pharmacies_for_reporting(user=user).exists(),
    }
    return render(request, "issues/list.jinja", context)


@require_http_methods(["GET"])
def lpc_dashboard(request: HttpRequest) -> HttpResponse:
    """The LPC officer's issues, those waiting on the LPC first, and how many are in each state."""
    user = _user(request)
    if not user.lpcs.exists():
        raise PermissionDenied("Only LPC officers have an LPC dashboard.")
    waiting_on_lpc_first = Case(When(state=State.LPC_CC, then=Value(0)), default=Value(1))
    issues = (
        selectors.issue_list(user=user, state="open")
        .filter(lpc_involved_at__isnull=False)
        .order_by(waiting_on_lpc_first, F("due_at").asc(nulls_last=True), "-created_at")
    )
    return _render_dashboard(request, "issues/lpc_dashboard.jinja", user=user, issues=issues)


@require_http_methods(["GET"])
def cpe_dashboard(request: HttpRequest) -> HttpResponse:
    """Escalations awaiting the CPE IT team's triage, oldest deadline first, and counts by state."""
    user = _user(request)
    if not user.is_cpe_it:
        raise PermissionDenied("Only the CPE IT team has this dashboard.")
    issues = selectors.issue_list(user=user, state=State.ESCALATED).order_by(
        F("due_at").asc(nulls_last=True), "created_at"
    )
    return _render_dashboard(request, "issues/cpe_dashboard.jinja", user=user, issues=issues)


def _render_dashboard(request: HttpRequest, template: str, *, user: User, issues: QuerySet[Issue]) -> HttpResponse:
    """A dashboard: the first DASHBOARD_SIZE of `issues`, and how many visible issues are in each state."""
    counts = selectors.issue_counts(user=user)
    context = {
        "rows": _rows(issues[:DASHBOARD_SIZE]),
        "counts": [{"state": s, "tag": presentation.state_tag(s), "count": counts.by_state[s]} for s in State],
        "overdue_count": counts.overdue,
        "limit": DASHBOARD_SIZE,
    }
    return render(request, template, context)
