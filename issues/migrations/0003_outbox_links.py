"""The link rows and digest items point at the mail layer's outbox (state only: the tables are
the same); an issue's and an event's mail read through the link rows; the rows the app wrote of
its own accord are marked Auto-Submitted, as they were sent."""

import django.db.models.deletion
from django.db import migrations, models

# issues.emails.AUTOMATIC_PURPOSES when this migration was written.
AUTOMATIC_PURPOSES = ["nudge", "digest", "notification"]


def mark_automatic(apps, schema_editor):
    OutboundEmail = apps.get_model("mail", "OutboundEmail")
    OutboundEmail.objects.filter(purpose__in=AUTOMATIC_PURPOSES).update(auto_submitted=True)


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0002_outbox_moves_to_mail"),
        ("mail", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="issueoutboundemail",
                    name="email",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="issue_link",
                        serialize=False,
                        to="mail.outboundemail",
                    ),
                ),
                migrations.AlterField(
                    model_name="nudgedigestitem",
                    name="digest_email",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="digest_items",
                        to="mail.outboundemail",
                    ),
                ),
                migrations.DeleteModel(name="OutboundEmail"),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="issue",
            name="outbound_emails",
            field=models.ManyToManyField(
                related_name="issues",
                related_query_name="issue",
                through="issues.IssueOutboundEmail",
                to="mail.outboundemail",
            ),
        ),
        migrations.AddField(
            model_name="issueevent",
            name="emails",
            field=models.ManyToManyField(
                related_name="events",
                related_query_name="event",
                through="issues.IssueOutboundEmail",
                to="mail.outboundemail",
            ),
        ),
        migrations.RunPython(mark_automatic, migrations.RunPython.noop, elidable=False),
    ]
