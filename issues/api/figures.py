"""/api/v1/figures/: the figures of the dashboards (issues.selectors.figures) as JSON, for an LPC's
own tools, scoped like the page: CPE IT's across every LPC, an LPC officer's for the issues they
may see; anyone else 404. `?weeks=` is 4, 13 (the default) or 52; anything else is a 400 with
field errors. Shares are fractions (0 to 1) and times are working days, unrounded; null when
there is nothing to measure.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from issues.api.serializers import FIELD_ERRORS_SCHEMA, ErrorSerializer
from issues.api.views import API_AUTHENTICATION
from issues.selectors.figures import DEFAULT_WEEKS, PERIOD_WEEKS, figures_for, may_see_figures


class FiguresQuerySerializer(serializers.Serializer[Any]):
    weeks = serializers.ChoiceField(
        choices=list(PERIOD_WEEKS),
        default=DEFAULT_WEEKS,
        help_text="The period: the last 4, 13 or 52 whole weeks (Monday to Sunday, UK time), this week being the last.",
    )


class WeekSerializer(serializers.Serializer[Any]):
    week = serializers.DateField(help_text="The Monday of the week.")
    opened = serializers.IntegerField(help_text="Issues reported that week.")
    resolved = serializers.IntegerField(help_text="Issues resolved that week (and still resolved).")


class StepSerializer(serializers.Serializer[Any]):
    step = serializers.CharField(help_text="The step of the route that fixed the issues (Issue.fixed_by_step).")
    step_label = serializers.CharField(source="label", help_text="The step in words.")
    resolved = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Of the issues resolved in the period (0 to 1).")
    median_days = serializers.FloatField(
        allow_null=True, help_text="Median working days from the report to the resolution."
    )


class RaSerializer(serializers.Serializer[Any]):
    ra_id = serializers.IntegerField()
    name = serializers.CharField()
    requests = serializers.IntegerField(help_text="Requests to the RA in the period (contact_ra).")
    answered = serializers.IntegerField()
    unanswered = serializers.IntegerField(help_text="Requests with no reply yet.")
    median_reply_days = serializers.FloatField(
        allow_null=True, help_text="Median working days from a request to the RA's first reply."
    )
    within_window = serializers.IntegerField(help_text="Requests answered within the RA reply window.")
    decided = serializers.IntegerField(help_text="Requests answered, or whose window is over.")
    within_window_share = serializers.FloatField(allow_null=True, help_text="within_window / decided.")


class FiguresSerializer(serializers.Serializer[Any]):
    weeks = serializers.IntegerField(source="period.weeks")
    start = serializers.DateTimeField(source="period.start", help_text="The period's first moment.")
    now = serializers.DateTimeField(source="period.now", help_text="The moment the figures are as of.")
    snapshot_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the worker worked these figures out (every few minutes): CPE IT's, and an officer's "
        "of one LPC; null when they were worked out for this request.",
    )
    scope = serializers.CharField(
        allow_null=True,
        help_text="Whose figures the worker worked out: 'every LPC', or the LPC's name; null with snapshot_at.",
    )
    resolved = serializers.IntegerField(help_text="Issues resolved in the period.")
    ra_window_days = serializers.FloatField(help_text="The RA reply window, in working days.")
    per_week = WeekSerializer(source="weeks", many=True)
    steps = StepSerializer(many=True)
    ras = RaSerializer(many=True, help_text="Slowest first.")


class FiguresView(APIView):
    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="The figures: issues per week, where they were fixed, how fast RAs answer",
        parameters=[FiguresQuerySerializer],
        responses={
            200: FiguresSerializer,
            400: OpenApiResponse(FIELD_ERRORS_SCHEMA, description="Not a period of 4, 13 or 52 weeks."),
            401: OpenApiResponse(ErrorSerializer, description="No or invalid credentials."),
            404: OpenApiResponse(ErrorSerializer, description="Only CPE IT and LPC officers have figures."),
        },
    )
    def get(self, request: Request) -> Response:
        if not may_see_figures(user=request.user):
            raise exceptions.NotFound("Only CPE IT and LPC officers have figures.")
        query = FiguresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        figures = figures_for(user=request.user, weeks=query.validated_data["weeks"])
        return Response(FiguresSerializer(figures).data)
