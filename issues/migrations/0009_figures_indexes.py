"""Indexes for the figures at national scale (issue 9; docs/benchmarks.md, "The figures").

- issue_resolved (resolved_at) INCLUDE (created_at, fixed_by_step) for resolved issues: the issues
  resolved in a period, their count per week and by step and their durations, off the index alone;
- event_ra_request (created_at) INCLUDE (issue_id) for TRANSITION events of contact_ra: the
  requests to RAs made in a period; event_ra_request_issue (issue_id, created_at), the same
  requests by issue, for a scope (an LPC officer's), read from its issues;
- event_ra_reply (issue_id, created_at) for the kinds of event that may be an RA's reply
  (figures.RA_REPLY_EVENTS): each request's first reply.

Plain AddIndex (CREATE INDEX in the migration's transaction): at 1,000,000 issues and 7,500,000
events they take about a minute, during which writes to the two tables wait.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0008_speed_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("state", "resolved")),
                fields=["resolved_at"],
                include=("created_at", "fixed_by_step"),
                name="issue_resolved",
            ),
        ),
        migrations.AddIndex(
            model_name="issueevent",
            index=models.Index(
                condition=models.Q(("data__transition", "contact_ra"), ("kind", "transition")),
                fields=["created_at"],
                include=("issue",),
                name="event_ra_request",
            ),
        ),
        migrations.AddIndex(
            model_name="issueevent",
            index=models.Index(
                condition=models.Q(("data__transition", "contact_ra"), ("kind", "transition")),
                fields=["issue", "created_at"],
                name="event_ra_request_issue",
            ),
        ),
        migrations.AddIndex(
            model_name="issueevent",
            index=models.Index(
                condition=models.Q(("kind__in", ["ra_reply", "phone_call", "email_in"])),
                fields=["issue", "created_at"],
                name="event_ra_reply",
            ),
        ),
    ]
