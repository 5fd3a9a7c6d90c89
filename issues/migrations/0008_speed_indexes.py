"""Indexes for the pages at national scale (issue 9, part 4; docs/benchmarks.md, "Pages").

- issue_created (created_at, id): the lists' order, newest first, over every issue (CPE IT's
  lists, the API's list), read backwards for the first pages and forwards for the last;
- issue_open_created (created_at, id) for open issues only: the same for every list's default,
  the open issues, without walking the closed ones;
- issue_lpc_involved (pharmacy_id, state) where the LPC is involved: an LPC officer's scope
  (issues_visible_to) and the LPC's counts by state, read off the index.

Plain AddIndex (CREATE INDEX in the migration's transaction): on 1,000,000 issues the three take
a few seconds, during which writes to issues_issue wait.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0007_lpc_work_triage_cases"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(fields=["created_at", "id"], name="issue_created"),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(
                    ("state__in", ["in_pharmacy", "cis_self_service", "ra_contacted", "lpc_cc", "escalated"])
                ),
                fields=["created_at", "id"],
                name="issue_open_created",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("lpc_involved_at__isnull", False)),
                fields=["pharmacy", "state"],
                name="issue_lpc_involved",
            ),
        ),
    ]
