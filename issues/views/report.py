"""Report a Smartcard problem: the question pages, the answers kept in the session until the end,
the check page and the confirmation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from directory.models import Pharmacy, User
from issues import forms as issue_forms
from issues import guidance, presentation, selectors, services, windows
from issues.exceptions import IssueServiceError
from issues.models import Deadline, Kind, kind_needs_ra
from issues.views.shared import _issue_or_404, _status_for, _user

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


def _pharmacy_ids(pharmacies: QuerySet[Pharmacy]) -> list[int]:
    """The ids of the pharmacies the user reports for, in one read with no ORDER BY and no LIMIT:
    with either, PostgreSQL expected to meet one of the user's pharmacies soon and read all of
    England's 10,500 in turn instead of the user's own by their indexes (2 to 3.5 ms against
    0.2 ms, EXPLAIN ANALYZE on sr_bench_1m; docs/benchmarks.md)."""
    return list(pharmacies.order_by().values_list("pk", flat=True))


def _wizard(request: HttpRequest, pharmacy_ids: list[int]) -> dict[str, Any]:
    """The answers so far; the pharmacy is answered for the user who has only one."""
    answers: dict[str, Any] = dict(request.session.get(REPORT_SESSION_KEY, {}))
    if len(pharmacy_ids) == 1:
        answers["pharmacy"] = pharmacy_ids[0]
    elif answers.get("pharmacy") not in pharmacy_ids:
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
    pharmacy_ids = _pharmacy_ids(_reporting_pharmacies(_user(request)))
    if not pharmacy_ids:
        return render(request, "issues/report/no_pharmacy.jinja", status=403)
    return redirect(_step_url(_first_unanswered(_wizard(request, pharmacy_ids))))


@require_http_methods(["GET", "POST"])
def report_step(request: HttpRequest, step: str) -> HttpResponse:
    if step not in REPORT_STEPS:
        raise Http404("No such step")
    user = _user(request)
    pharmacies = _reporting_pharmacies(user)
    pharmacy_ids = _pharmacy_ids(pharmacies)
    if not pharmacy_ids:
        return render(request, "issues/report/no_pharmacy.jinja", status=403)
    answers = _wizard(request, pharmacy_ids)
    first_unanswered = _first_unanswered(answers)
    several = len(pharmacy_ids) > 1
    # The pharmacy question only of a user with several: anyone else asking for it goes on.
    steps = _report_steps(answers, several_pharmacies=several)
    if step not in steps or REPORT_STEPS.index(step) > REPORT_STEPS.index(first_unanswered):
        return redirect(_step_url(first_unanswered))
    if step == "check":
        return _report_check(request, user=user, answers=answers, pharmacies=pharmacies)

    changing = request.GET.get("change") == "1"
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
