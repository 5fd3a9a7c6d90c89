"""Demo issues for `manage.py seed_demo`, built on the demo directory and accounts.

`seed_issues` must be idempotent like `directory.demo.seed_directory`: running it twice leaves the
same rows. It returns how many demo issues exist after it ran.
"""

from __future__ import annotations

from directory.demo import DemoAccounts


def seed_issues(accounts: DemoAccounts) -> int:
    """Create demo issues in every state for the demo accounts (filled in by the issues work)."""
    return 0
