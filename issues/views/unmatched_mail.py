"""Pages for inbound mail: CPE IT's list of unmatched email (and of provider posts that could not be
read), one email with the issues it may belong to, attaching it to an issue through a confirmation
that shows the issue, undoing that, downloading what a provider posted, and downloading an inbound
attachment (for anyone who may see its issue)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory.models import User
from issues import presentation
from issues.correspondence import inbound
from issues.exceptions import IssueServiceError
from issues.forms import NhsukForm
from issues.models import InboundEmailMatch
from issues.selectors import cpe
from issues.views.shared import _status_for, _user
from smartcard_route.mail.models import InboundEmail

PAGE_SIZE = 50
MatchedBy = InboundEmailMatch.MatchedBy


class AttachEmailForm(NhsukForm):
    reference = forms.CharField(
        label="Issue reference",
        help_text="For example, SC-000123",
        max_length=20,
        strip=True,
        error_messages={"required": "Enter the reference of the issue this email belongs to"},
    )


def _cpe_it(request: HttpRequest) -> User:
    user: Any = request.user
    if not (user.is_authenticated and user.is_active and user.is_cpe_it):
        raise Http404("No such page.")
    return user  # type: ignore[no-any-return]


def _email_or_404(user: User, pk: int) -> InboundEmail:
    email = (
        inbound.inbound_emails_visible_to(user)
        .select_related("unmatched")
        .prefetch_related("attachments", "matches__issue")
        .filter(pk=pk)
        .first()
    )
    if email is None:
        raise Http404("No such email.")
    return email


@require_GET
def unmatched_mail(request: HttpRequest) -> HttpResponse:
    user = _cpe_it(request)
    page = Paginator(inbound.unmatched_emails(user=user), PAGE_SIZE).get_page(request.GET.get("page"))
    unreadable = list(inbound.unreadable_inbound_posts(user=user)[:PAGE_SIZE])
    attached = list(inbound.recent_manual_attachments(user=user))
    context = {"page": page, "unreadable": unreadable, "attached": attached}
    return render(request, "issues/unmatched_list.jinja", context)


@require_GET
def unmatched_mail_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _cpe_it(request)
    return _render_detail(request, _email_or_404(user, pk), AttachEmailForm())


@require_http_methods(["GET", "POST"])
def unmatched_mail_attach(request: HttpRequest, pk: int) -> HttpResponse:
    """Attach an unmatched email to an issue: GET shows the issue it would join (nothing saved);
    the confirmation's POST (confirm=yes) attaches it. A bad reference shows the email's page
    with the error summary (400)."""
    user = _cpe_it(request)
    email = _email_or_404(user, pk)
    form = AttachEmailForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return _render_detail(request, email, form, status=400)
    reference = form.cleaned_data["reference"]
    try:
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            match = inbound.inbound_email_attach(user=user, email=email, reference=reference)
            messages.success(request, ATTACHED.format(reference=match.issue.reference))
            return redirect(reverse("issues:detail", kwargs={"reference": match.issue.reference}))
        issue = inbound.inbound_email_attach_preview(user=user, email=email, reference=reference)
    except ValidationError as error:
        form.add_error("reference", error.message_dict.get("reference", error.messages))
        return _render_detail(request, email, form, status=400)
    except IssueServiceError as error:
        form.add_error(None, error.message)
        return _render_detail(request, email, form, status=_status_for(error))
    context = {"email": email, "issue": issue, "tag": presentation.status_tag(issue)}
    return render(request, "issues/unmatched_confirm.jinja", context)


ATTACHED = (
    "The email is on {reference} now. If that is the wrong issue, take it off again from its timeline entry: "
    "it goes back to the unmatched mail."
)


@require_POST
def unmatched_mail_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Take an email CPE IT attached off its issue again: it goes back to the unmatched mail."""
    user = _cpe_it(request)
    email = _email_or_404(user, pk)
    try:
        inbound.inbound_email_detach(user=user, email=email)
    except IssueServiceError as error:
        return _render_detail(request, email, AttachEmailForm(), error=error.message, status=_status_for(error))
    messages.success(request, "The email is taken off the issue and is back in the unmatched mail.")
    return redirect(reverse("issues:unmatched_mail_detail", args=[email.pk]))


def _render_detail(
    request: HttpRequest, email: InboundEmail, form: AttachEmailForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    user = _user(request)
    matches = [match for match in email.matches.all() if match.detached_at is None]
    unmatched = hasattr(email, "unmatched")
    suggestions = cpe.unmatched_email_suggestions(user=user, email=email) if unmatched else []
    context = {
        "email": email,
        "form": form,
        "issues": [match.issue for match in matches],
        "undoable": any(match.matched_by == MatchedBy.MANUAL for match in matches),
        "unmatched": unmatched,
        "suggestions": suggestions,
        "error": error,
    }
    return render(request, "issues/unmatched_detail.jinja", context, status=status)


# A download of what came from outside: nothing in it may run, load, or be framed.
DOWNLOAD_CSP = "default-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox"


@require_GET
def unreadable_post(request: HttpRequest, pk: int) -> HttpResponse:
    """What a provider posted that could not be read, as it came: always a download."""
    user = _cpe_it(request)
    post = inbound.unreadable_inbound_posts(user=user).defer(None).filter(pk=pk).first()
    if post is None:
        raise Http404("No such post.")
    response = HttpResponse(bytes(post.body), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{post.esp}-post-{post.pk}.txt"'
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    return response


@require_GET
def inbound_attachment(request: HttpRequest, pk: int) -> FileResponse:
    """Always a download (never shown inline): an attachment may be hostile HTML or script."""
    attachment = inbound.inbound_attachment_visible(user=request.user, pk=pk)
    if not attachment.file:
        raise Http404("This attachment was not stored.")
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    return response
