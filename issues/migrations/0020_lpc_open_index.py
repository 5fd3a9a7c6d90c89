"""The open issues an LPC is involved in, by pharmacy (issue_lpc_open): the LPC dashboard's two
lists read them through it (issues.models.Issue.Meta.indexes says why)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0003_audited_directory"),
        ("issues", "0019_state_changed_at"),
        ("mail", "0004_inbound_post_reading_since"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(
                    ("lpc_involved_at__isnull", False),
                    ("state__in", ["in_pharmacy", "cis_self_service", "ra_contacted", "lpc_cc", "escalated"]),
                ),
                fields=["pharmacy"],
                name="issue_lpc_open",
            ),
        ),
    ]
