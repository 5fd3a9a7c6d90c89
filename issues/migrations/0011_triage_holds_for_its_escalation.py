"""Entering escalated now clears the triage (issues.services.transitions); before, the CPE IT
dashboard compared triaged_at with the issue's last TRANSITION to escalated. Escalated issues
triaged before their last escalation have their triage cleared, so both rules read the same."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def clear_earlier_triage(apps, schema_editor):
    Issue = apps.get_model("issues", "Issue")
    IssueEvent = apps.get_model("issues", "IssueEvent")
    entered = (
        IssueEvent.objects.filter(issue=OuterRef("pk"), kind="transition", to_state="escalated")
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    stale = (
        Issue.objects.filter(state="escalated", triaged_at__isnull=False)
        .annotate(entered=Subquery(entered))
        .filter(entered__isnull=False)
    )
    ids = [pk for pk, triaged, came in stale.values_list("pk", "triaged_at", "entered") if triaged < came]
    Issue.objects.filter(pk__in=ids).update(triage_outcome="", triaged_at=None)


class Migration(migrations.Migration):
    dependencies = [("issues", "0010_figures_snapshot_retention")]

    operations = [migrations.RunPython(clear_earlier_triage, migrations.RunPython.noop)]
