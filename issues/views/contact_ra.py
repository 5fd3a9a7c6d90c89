"""Contact the RA: the prepared request, sent from the app or from the user's own mail and confirmed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from issues import forms as issue_forms
from issues import guidance, presentation, route, selectors, services, windows
from issues.correspondence.outbound import RaRequest, default_ra_question, issue_ra_request_preview
from issues.exceptions import IssueServiceError
from issues.models import Deadline, Issue
from issues.route import SEND_VIA_OWN_MAIL
from issues.views.detail import _render_detail
from issues.views.shared import _issue_or_404, _status_for, _user
from smartcard_route.jinja2 import url_or_none


@require_http_methods(["GET", "POST"])
def contact_ra(request: HttpRequest, reference: str) -> HttpResponse:
    """The prepared request to the RA: sent from the app, or from the user's own mail and confirmed."""
    user = _user(request)
    issue = _issue_or_404(request, reference)
    row = route.CONTACT_RA
    roles = selectors.issue_roles(user=user, issue=issue)
    forbidden = row.forbidden(roles, {})
    if forbidden is not None and request.method == "POST":
        raise PermissionDenied(forbidden)  # 403, as for any action the role may not take
    if row.name not in selectors.issue_allowed_transitions(user=user, issue=issue):
        messages.error(request, f"You cannot {row.label.verb} about this issue at this stage.")
        return redirect("issues:detail", reference=issue.reference)
    form_class = issue_forms.ACTION_FORMS[row.name]
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
        return url_or_none("directory:ra_report", ra_id)
    if lpc_id is not None:
        return url_or_none("directory:lpc_report", lpc_id)
    return None
