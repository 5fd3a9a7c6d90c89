"""CPE IT's dashboard read off indexes: the escalations to triage and the triaged in their lists'
order, and the open issues' index carrying the pharmacy and kind for the case suggestions (built
before the index it replaces goes)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0013_lpc_figures_snapshots"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(
                    ("state__in", ["in_pharmacy", "cis_self_service", "ra_contacted", "lpc_cc", "escalated"])
                ),
                fields=["created_at", "id"],
                include=("pharmacy", "kind"),
                name="issue_open_created_kind",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("state", "escalated"), ("triaged_at__isnull", True)),
                fields=["due_at", "created_at", "id"],
                name="issue_awaiting_triage",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("state", "escalated"), ("triaged_at__isnull", False)),
                fields=["cpe_owner", "due_at", "triaged_at", "id"],
                name="issue_triaged_by_owner",
            ),
        ),
        migrations.RemoveIndex(
            model_name="issue",
            name="issue_open_created",
        ),
    ]
