"""Inbound mail, moved here from the issues app (whose migration 0004 renamed its tables and runs
before this one): the models are taken over without touching the database. New: the provider's
post stored first (InboundPost), each email's post, the hash of its content (with the Message-ID,
what makes it one message), and when it was handed over to the apps above."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import smartcard_route.mail.models
from smartcard_route.mail.parsing import content_hash


def fill_in(apps, schema_editor):
    """Rows stored before: their content's hash, from their own fields (as the parser makes it),
    and handed over (the issues app recorded them as they came)."""
    InboundEmail = apps.get_model("mail", "InboundEmail")
    for email in InboundEmail.objects.prefetch_related("attachments").iterator(chunk_size=500):
        email.content_hash = content_hash(
            from_email=email.from_email,
            to=email.to,
            cc=email.cc,
            subject=email.subject,
            body_text=email.body_text,
            attachment_names=[attachment.filename for attachment in email.attachments.all()],
        )
        email.handed_over_at = email.received_at
        email.save(update_fields=["content_hash", "handed_over_at"])


class Migration(migrations.Migration):
    dependencies = [("mail", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="InboundEmail",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("esp_name", models.CharField(max_length=40)),
                        ("esp_event_id", models.CharField(blank=True, max_length=254)),
                        ("message_id", models.CharField(max_length=998)),
                        ("in_reply_to", models.TextField(blank=True)),
                        ("references", models.TextField(blank=True)),
                        ("from_email", models.CharField(blank=True, max_length=254)),
                        ("from_name", models.CharField(blank=True, max_length=200)),
                        ("to", models.JSONField(blank=True, default=list)),
                        ("cc", models.JSONField(blank=True, default=list)),
                        (
                            "recipients",
                            models.JSONField(
                                blank=True,
                                default=list,
                                help_text="Every address it was delivered to: To, Cc, Bcc and the envelope.",
                            ),
                        ),
                        ("subject", models.CharField(blank=True, max_length=998)),
                        ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="date in the email")),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("headers", models.TextField(blank=True)),
                        ("body_text", models.TextField(blank=True)),
                        ("body_html", models.TextField(blank=True, verbose_name="sanitised HTML body")),
                        (
                            "automatic_reason",
                            models.CharField(
                                blank=True,
                                help_text="Why it is taken for an auto-reply or a mail loop (empty: a person).",
                                max_length=200,
                            ),
                        ),
                        ("spam_detected", models.BooleanField(blank=True, null=True)),
                        (
                            "notes",
                            models.TextField(
                                blank=True, help_text="What happened while receiving it: refused attachments, errors."
                            ),
                        ),
                    ],
                    options={"ordering": ("-received_at", "-id")},
                ),
                migrations.CreateModel(
                    name="InboundAttachment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("filename", models.CharField(max_length=255)),
                        ("content_type", models.CharField(blank=True, max_length=150)),
                        ("size", models.PositiveBigIntegerField(default=0)),
                        (
                            "file",
                            models.FileField(
                                blank=True,
                                max_length=400,
                                upload_to=smartcard_route.mail.models.inbound_attachment_path,
                            ),
                        ),
                        ("refused_reason", models.CharField(blank=True, max_length=300)),
                        (
                            "email",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="attachments",
                                to="mail.inboundemail",
                            ),
                        ),
                    ],
                    options={"ordering": ("id",)},
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name="InboundPost",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "esp",
                    models.CharField(help_text="The provider's webhook it came to (webhooks.ESPS).", max_length=40),
                ),
                ("content_type", models.CharField(blank=True, max_length=200)),
                ("headers", models.JSONField(blank=True, default=dict)),
                ("body", models.BinaryField()),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("received", "Received, not read yet"),
                            ("read", "Read"),
                            ("failed", "Could not be read"),
                        ],
                        default="received",
                        max_length=10,
                    ),
                ),
                ("error", models.TextField(blank=True, help_text="Why it could not be read.")),
                ("read_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ("-received_at", "-id"),
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "read"), _negated=True),
                        fields=["received_at"],
                        name="inbound_post_unread",
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="inboundemail",
            name="post",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="emails",
                to="mail.inboundpost",
            ),
        ),
        migrations.AddField(
            model_name="inboundemail",
            name="content_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="inboundemail",
            name="handed_over_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="inboundemail",
            constraint=models.UniqueConstraint(fields=("message_id", "content_hash"), name="inbound_message_once"),
        ),
        migrations.AddIndex(
            model_name="inboundemail",
            index=models.Index(
                condition=models.Q(("handed_over_at__isnull", True)),
                fields=["received_at"],
                name="inbound_not_handed_over",
            ),
        ),
    ]
