"""Pages for inbound mail: CPE IT's list of unmatched email (and of provider posts that could not be
read), one email, attaching it to an issue, downloading what a provider posted, and downloading an
inbound attachment (for anyone who may see its issue)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from directory.models import User
from issues.correspondence import inbound
from issues.exceptions import IssueServiceError
from issues.forms import NhsukForm
from smartcard_route.mail.models import InboundEmail

PAGE_SIZE = 50


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
    return render(request, "issues/unmatched_list.jinja", {"page": page, "unreadable": unreadable})


@require_GET
def unmatched_mail_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _cpe_it(request)
    return _render_detail(request, _email_or_404(user, pk), AttachEmailForm())


@require_POST
def unmatched_mail_attach(request: HttpRequest, pk: int) -> HttpResponse:
    user = _cpe_it(request)
    email = _email_or_404(user, pk)
    form = AttachEmailForm(request.POST)
    if form.is_valid():
        try:
            match = inbound.inbound_email_attach(user=user, email=email, reference=form.cleaned_data["reference"])
        except ValidationError as error:
            for message in error.message_dict.get("reference", error.messages):
                form.add_error("reference", message)
        except IssueServiceError as error:
            form.add_error(None, error.message)
        else:
            return redirect(reverse("issues:detail", kwargs={"reference": match.issue.reference}))
    return _render_detail(request, email, form, status=400)


def _render_detail(request: HttpRequest, email: InboundEmail, form: AttachEmailForm, status: int = 200) -> HttpResponse:
    issues = [match.issue for match in email.matches.all()]
    unmatched = hasattr(email, "unmatched")
    context = {"email": email, "form": form, "issues": issues, "unmatched": unmatched}
    return render(request, "issues/unmatched_detail.jinja", context, status=status)


@require_GET
def unreadable_post(request: HttpRequest, pk: int) -> HttpResponse:
    """What a provider posted that could not be read, as it came: always a download."""
    user = _cpe_it(request)
    post = inbound.unreadable_inbound_posts(user=user).defer(None).filter(pk=pk).first()
    if post is None:
        raise Http404("No such post.")
    response = HttpResponse(bytes(post.body), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{post.esp}-post-{post.pk}.txt"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
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
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
