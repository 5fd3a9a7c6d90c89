"""The two indexes that serve the issues' scope (issues_visible_to) carry the lists' order
(`created_at`, then `id`), so the ids of a page of a scope are read off the index alone rather than from
the heap row of every issue in it (an owner of 200 pharmacies: 18,965 issues on 15,740 pages).
Each new index is built before the old one goes, so the lists are never without one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0015_event_transition_statistics"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                fields=["pharmacy", "state"],
                include=("lpc_involved_at", "due_at", "due_kind", "created_at", "id"),
                name="issue_pharmacy_scope",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("lpc_involved_at__isnull", False)),
                fields=["pharmacy", "state"],
                include=("created_at", "id"),
                name="issue_lpc_scope",
            ),
        ),
        migrations.RemoveIndex(model_name="issue", name="issue_pharmacy_state_counts"),
        migrations.RemoveIndex(model_name="issue", name="issue_lpc_involved"),
    ]
