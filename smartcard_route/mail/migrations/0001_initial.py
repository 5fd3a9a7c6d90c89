"""The outbox, moved here from the issues app (whose migration 0002 renamed its table
mail_outboundemail and runs before this one): the model is taken over without touching the
database; the column for Auto-Submitted is new."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboundEmail",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("purpose", models.CharField(max_length=20)),
                        ("from_email", models.CharField(max_length=254)),
                        ("to", models.JSONField(default=list)),
                        ("cc", models.JSONField(blank=True, default=list)),
                        ("reply_to", models.CharField(blank=True, max_length=254)),
                        ("subject", models.CharField(max_length=300)),
                        ("body_text", models.TextField(blank=True)),
                        ("body_html", models.TextField(blank=True)),
                        ("template", models.CharField(blank=True, max_length=100)),
                        ("context", models.JSONField(blank=True, default=dict)),
                        ("message_id", models.CharField(max_length=254)),
                        ("in_reply_to", models.CharField(blank=True, max_length=254)),
                        ("references", models.TextField(blank=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("failed", "Failed"),
                                    ("delivered", "Delivered"),
                                    ("bounced", "Bounced"),
                                    ("complained", "Complained"),
                                ],
                                default="queued",
                                max_length=12,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("esp_message_id", models.CharField(blank=True, max_length=254)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("status_changed_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "ordering": ("created_at", "id"),
                        "indexes": [
                            models.Index(
                                condition=models.Q(("status__in", ["queued", "sending"])),
                                fields=["created_at"],
                                name="outbox_pending",
                            ),
                            models.Index(
                                condition=models.Q(("esp_message_id", ""), _negated=True),
                                fields=["esp_message_id"],
                                name="outbox_esp_message_id",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("message_id",), name="outbox_message_id_unique"),
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("body_text", ""), _negated=True),
                                    models.Q(("template", ""), _negated=True),
                                    _connector="OR",
                                ),
                                name="outbox_body_or_template",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="outboundemail",
            name="auto_submitted",
            field=models.BooleanField(default=False),
        ),
    ]
