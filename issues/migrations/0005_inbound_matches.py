"""The matches and CPE IT's queue point at the mail layer's inbound email (state only: the table is
the same)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0004_inbound_moves_to_mail"),
        ("mail", "0002_inbound"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundemailmatch",
                    name="email",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="matches", to="mail.inboundemail"
                    ),
                ),
                migrations.AlterField(
                    model_name="unmatchedemail",
                    name="email",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="unmatched",
                        serialize=False,
                        to="mail.inboundemail",
                    ),
                ),
                migrations.DeleteModel(name="InboundAttachment"),
                migrations.DeleteModel(name="InboundEmail"),
            ],
            database_operations=[],
        ),
    ]
