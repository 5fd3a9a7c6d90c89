"""A correction report's email to the directory manager goes through the mail layer's outbox: the
report links its outbox row, and the claim column of the task that used to send it goes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0001_initial"),
        ("mail", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(model_name="correctionreport", name="notified_at"),
        migrations.AddField(
            model_name="correctionreport",
            name="email",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="correction_report",
                to="mail.outboundemail",
            ),
        ),
    ]
