"""The deadlines' index carries what the overdue count tests besides the deadline (the kind of wait
and the state), so counting the country's overdue issues is an index-only scan. The new index is
built before the old one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0017_case_suggestions_snapshot"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("due_at__isnull", False)),
                fields=["due_at"],
                include=("due_kind", "state"),
                name="issue_waiting_due",
            ),
        ),
        migrations.RemoveIndex(model_name="issue", name="issue_due_at_waiting"),
    ]
