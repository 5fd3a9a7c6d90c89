"""When each issue entered its state (`Issue.state_changed_at`), kept by the transitions from now
on and filled here for the issues there are: the moment of each issue's last TRANSITION event
(the ageing of the LPC dashboard read it so, through a subquery over the events for every open
issue). An issue with no status change keeps None: it is in the state it was reported in.

The fill is one UPDATE of every issue with a status change: at England's size (1,000,000
issues, 7,500,000 events) 84 s on the benchmark machine, so it lifts the web's statement_timeout
for itself (SET LOCAL: this migration's transaction only)."""

from django.db import migrations, models

FILL = """
UPDATE issues_issue AS i SET state_changed_at = last.at
FROM (
    SELECT issue_id, max(created_at) AS at FROM issues_issueevent WHERE kind = 'transition' GROUP BY issue_id
) last
WHERE last.issue_id = i.id
"""


def fill(apps, schema_editor):  # noqa: ANN001, ARG001 (the migration's signature)
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(FILL)


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0018_waiting_due_index_carries_kind_and_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="issue",
            name="state_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
