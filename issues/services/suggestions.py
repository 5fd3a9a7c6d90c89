"""The worker's copy of CPE IT's suggested groups (issues.selectors.cases, CaseSuggestionsSnapshot):
worked out from the rows every CASE_SUGGESTIONS_REFRESH_MINUTES by a beat task, so the dashboard
reads one row instead of grouping the country's recent open issues (docs/benchmarks.md)."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from issues.models import CaseSuggestionsSnapshot
from issues.selectors.cases import suggestions_to_json, work_out_case_suggestions

log = logging.getLogger(__name__)


def case_suggestions_refresh(*, now: datetime | None = None) -> CaseSuggestionsSnapshot:
    """Work out the suggested groups as of `now` (default: now) and keep them, in place of the last."""
    now = now or timezone.now()
    started = time.monotonic()
    suggestions = work_out_case_suggestions(now=now)
    seconds = time.monotonic() - started
    with transaction.atomic():
        snapshot = CaseSuggestionsSnapshot.objects.create(
            computed_at=now, seconds=seconds, data=suggestions_to_json(suggestions)
        )
        CaseSuggestionsSnapshot.objects.exclude(pk=snapshot.pk).delete()
    log.info("case suggestions worked out", extra={"groups": len(suggestions), "seconds": round(seconds, 3)})
    return snapshot
