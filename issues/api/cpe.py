"""CPE IT's part of the JSON API (/api/v1/): its dashboard, and the unmatched mail (the list, the
issues an email may belong to, attaching it to one, undoing that).

The same reads (issues.selectors.cpe, issues.correspondence.inbound) and writes
(inbound_email_attach, inbound_email_detach) as the pages, and the same answers: the dashboard is
CPE IT's (403 for anyone else, as the page); the unmatched mail is invisible to anyone else (404,
as the pages). The services' exceptions become status codes as in issues.api.views.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from issues.api.serializers import (
    IssueEventSerializer,
    IssueListSerializer,
    PersonSerializer,
)
from issues.api.views import (
    API_AUTHENTICATION,
    CONFLICT,
    FIELD_ERRORS,
    FORBIDDEN,
    UNAUTHENTICATED,
    IssuePagination,
    api_exception_for,
)
from issues.correspondence import inbound
from issues.models import InboundEmailMatch, TriageOutcome
from issues.selectors import cpe
from smartcard_route.mail.models import InboundEmail

# Output ---------------------------------------------------------------------------------------


class EscalationSerializer(IssueListSerializer):
    """An escalation as CPE IT's dashboard lists it: the issue, with its latest triage."""

    cpe_owner = PersonSerializer(read_only=True, allow_null=True)
    triage_outcome = serializers.ChoiceField(choices=[("", "Not triaged"), *TriageOutcome.choices], read_only=True)

    class Meta(IssueListSerializer.Meta):
        fields = (*IssueListSerializer.Meta.fields, "cpe_owner", "triage_outcome", "triaged_at")
        read_only_fields = fields


class EscalationsSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="How many; `results` holds the first 50, the earliest deadline first.")
    results = EscalationSerializer(many=True)


class OwnerGroupSerializer(serializers.Serializer[Any]):
    owner = PersonSerializer()
    yours = serializers.BooleanField(help_text="The owner is you.")
    issues = EscalationSerializer(many=True)


class TriagedSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="How many; `groups` holds the first 100.")
    groups = OwnerGroupSerializer(many=True, help_text="By owner, yours first, then by name.")


class UnmatchedEmailSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk", read_only=True)
    from_email = serializers.CharField(read_only=True)
    from_name = serializers.CharField(read_only=True)
    to = serializers.ListField(child=serializers.CharField(), read_only=True)
    cc = serializers.ListField(child=serializers.CharField(), read_only=True)
    subject = serializers.CharField(read_only=True)
    received_at = serializers.DateTimeField(read_only=True)
    notes = serializers.CharField(read_only=True, help_text="Why it was not matched, and what happened to it.")
    page_url = serializers.SerializerMethodField(help_text="Its page on the site.")

    def get_page_url(self, email: InboundEmail) -> str:
        path = reverse("issues:unmatched_mail_detail", args=[email.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class UnmatchedSummarySerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    newest = UnmatchedEmailSerializer(many=True, help_text="The newest five.")


class StateCountsSerializer(serializers.Serializer[Any]):
    by_state = serializers.DictField(
        child=serializers.IntegerField(), help_text="Every state (issues' `state` values) and how many are in it."
    )
    overdue = serializers.IntegerField()


class CpeDashboardSerializer(serializers.Serializer[Any]):
    to_triage = EscalationsSerializer(help_text="Escalations not triaged since they were escalated.")
    triaged = TriagedSerializer(help_text="Open escalations triaged since, with an owner in CPE IT.")
    unmatched_mail = UnmatchedSummarySerializer()
    counts = StateCountsSerializer(help_text="All issues.")


class SuggestionSerializer(serializers.Serializer[Any]):
    issue = IssueListSerializer()
    ra_name = serializers.CharField(source="issue.pharmacy.ra.name", default="", help_text="The pharmacy's RA.")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why it is suggested, in words.")
    score = serializers.IntegerField(help_text="Higher is likelier; suggestions come best first.")


class AttachSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(max_length=20, help_text='The issue\'s reference, like "SC-000123".')


class AttachmentSerializer(serializers.Serializer[Any]):
    issue = IssueListSerializer(read_only=True)
    event = IssueEventSerializer(read_only=True, help_text="The email on the issue's timeline.")
    attached_by = PersonSerializer(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


# Views ----------------------------------------------------------------------------------------


class CpeDashboardView(APIView):
    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(api_exception_for(exc))

    @extend_schema(
        summary="CPE IT's dashboard",
        description=(
            "What needs the CPE IT team: escalations to triage (the earliest deadline first), triaged "
            "escalations by owner (yours first), unmatched mail, and counts of all issues by state. "
            "CPE IT only."
        ),
        responses={200: CpeDashboardSerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        if not cpe.is_cpe_it(request.user):
            raise exceptions.PermissionDenied("Only the CPE IT team has this dashboard.")
        dashboard = cpe.cpe_dashboard(user=request.user)
        data = {
            "to_triage": {"count": dashboard.to_triage_count, "results": dashboard.to_triage},
            "triaged": {"count": dashboard.triaged_count, "groups": dashboard.triaged},
            "unmatched_mail": {"count": dashboard.unmatched_count, "newest": dashboard.unmatched_newest},
            "counts": {"by_state": dashboard.counts.by_state, "overdue": dashboard.counts.overdue},
        }
        return Response(CpeDashboardSerializer(data, context={"request": request}).data)


EMAIL_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The inbound email's id.")
NO_EMAIL = OpenApiResponse(description="No such email, or you are not in the CPE IT team.")


class UnmatchedMailViewSet(viewsets.GenericViewSet[InboundEmail]):
    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    pagination_class = IssuePagination
    serializer_class = UnmatchedEmailSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> Any:
        if not cpe.is_cpe_it(self.request.user):
            raise exceptions.NotFound("No such page.")
        return inbound.unmatched_emails(user=self.request.user)

    def get_object(self) -> InboundEmail:
        if not cpe.is_cpe_it(self.request.user):
            raise exceptions.NotFound("No such email.")
        email = (
            inbound.inbound_emails_visible_to(self.request.user)
            .select_related("unmatched")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if email is None:
            raise exceptions.NotFound("No such email.")
        return email

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(api_exception_for(exc))

    @extend_schema(
        summary="Unmatched mail",
        description="Email that matched no issue, newest first, paginated. CPE IT only.",
        responses={200: UnmatchedEmailSerializer(many=True), 401: UNAUTHENTICATED, 404: NO_EMAIL},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(UnmatchedEmailSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        summary="The issues an unmatched email may belong to",
        description=(
            "From the sender's address (earlier email from them on the issue, the reporter, the "
            "pharmacy's address or people, its RA by address or domain, its LPC) and the subject (an "
            "issue reference, a Smartcard number, an ODS code), best first. Empty once it is attached."
        ),
        parameters=[EMAIL_ID],
        responses={200: SuggestionSerializer(many=True), 401: UNAUTHENTICATED, 404: NO_EMAIL},
    )
    @action(detail=True, methods=["get"])
    def suggestions(self, request: Request, pk: str) -> Response:
        email = self.get_object()
        found = cpe.unmatched_email_suggestions(user=request.user, email=email) if hasattr(email, "unmatched") else []
        return Response(SuggestionSerializer(found, many=True, context={"request": request}).data)

    @extend_schema(
        summary="Attach an unmatched email to an issue",
        description=(
            "Records it on the issue's timeline as if it had arrived there (the reporter is told; the "
            "RA's reply stops the RA reply window). 409 when it is no longer unmatched (someone else "
            "attached it first)."
        ),
        parameters=[EMAIL_ID],
        request=AttachSerializer,
        responses={
            201: AttachmentSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            404: NO_EMAIL,
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, pk: str) -> Response:
        email = self.get_object()
        body = AttachSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reference = body.validated_data["reference"]
        attached = inbound.inbound_email_attach(user=request.user, email=email, reference=reference)  # type: ignore[arg-type]
        match = InboundEmailMatch.objects.select_related(
            "issue__pharmacy", "issue__reporter", "event", "attached_by"
        ).get(pk=attached.pk)
        data = AttachmentSerializer(match, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Undo the attachment of an email",
        description=(
            "Takes an email CPE IT attached off its issue again: the email is back in the unmatched "
            "mail and an EMAIL_DETACHED event says so on the issue (its EMAIL_IN event stays). A "
            "deadline the email had stopped is not started again."
        ),
        parameters=[EMAIL_ID],
        request=None,
        responses={200: IssueEventSerializer, 401: UNAUTHENTICATED, 404: NO_EMAIL, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        event = inbound.inbound_email_detach(user=request.user, email=self.get_object())  # type: ignore[arg-type]
        return Response(IssueEventSerializer(event).data)


__all__ = ["CpeDashboardView", "UnmatchedMailViewSet"]
