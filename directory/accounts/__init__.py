"""Accounts: logging in, logging out and resetting a password (DESIGN.md, Layout).

`forms` (the NHS.UK wording), `views` (Django's auth views with our templates, under
templates/accounts/), `urls` (not namespaced: `login`, `logout`, `password_reset`... as Django's
LOGIN_URL expects) and `tasks` (the reset email, sent by a worker). The reminder-emails page at
/account/notifications/ belongs to issues (issues.account_urls).
"""
