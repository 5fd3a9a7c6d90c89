"""The issues' (pharmacy, state) index carries what the LPC dashboard counts (involved, overdue), so
that its counts over an area are an index-only scan. The new index is built before the old one goes,
so the lists that use it are never without one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0011_triage_holds_for_its_escalation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                fields=["pharmacy", "state"],
                include=("lpc_involved_at", "due_at", "due_kind"),
                name="issue_pharmacy_state_counts",
            ),
        ),
        migrations.RemoveIndex(
            model_name="issue",
            name="issue_pharmacy_state",
        ),
    ]
