"""Email backends for the fault tests' worker processes (TEST_EMAIL_BACKEND)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.core.mail.backends.filebased import EmailBackend as FileEmailBackend


class HeldProviderBackend(FileEmailBackend):
    """The file backend behind a provider that holds each message while FAULT_HOLD exists (the
    worker is killed meanwhile): it touches FAULT_ENTERED first, so the test knows a send is
    under way, and writes nothing until it is let go."""

    def send_messages(self, email_messages: Any) -> int:
        hold = Path(os.environ["FAULT_HOLD"])
        Path(os.environ["FAULT_ENTERED"]).touch()
        while hold.exists():
            time.sleep(0.05)
        return int(super().send_messages(email_messages))
