"""The mail layer (DESIGN.md, "Email" and "Inbound mail, stored first"): a Django app that knows no
issue. Every mail of the site goes through it (password reset aside, which Django sends itself).

- The outbox (`services.outbox`): a row written in the caller's transaction, sent by a task after
  commit, claimed once, retried with backoff, re-enqueued when stuck.
- Delivery tracking (`services.tracking`): the ESP's news about a sent row moves its status.
- Inbound mail (`services.inbound`, `parsing`): the ESP's post stored raw first, then parsed,
  sanitised and deduplicated.
- The ESP webhooks (`webhooks`, `urls`): only the providers of settings.MAIL_WEBHOOK_ESPS, each
  authenticated.

The apps above it plug in without this app importing them: they connect to the signals of
`signals` (a row sent, failed, delivered or bounced; an inbound email stored) and register the
template context of rows rendered when sent (`rendering.register_template_context`). They keep
their own link rows to the mail rows (an issue's outbound mail, an inbound email's matches).
"""
