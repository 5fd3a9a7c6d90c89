"""The Celery worker, doubled for the webhook's read tasks (tests/conftest.py's `inbound_reads`)."""

from __future__ import annotations


class InboundReads:
    """The reads of inbound posts the webhook enqueued (`READ_TASK`, by name), kept here instead
    of the broker and run by this test process as an idle worker would: each as soon as the
    request that enqueued it has answered (`run_after_requests`), or when the test says (`run()`).
    What runs is the task itself (`tasks.read_inbound_post`), so a test of the webhook goes
    through the production path: store, answer, then the worker's read."""

    def __init__(self) -> None:
        self.enqueued: list[int] = []  # every post id enqueued, in order
        self.pending: list[int] = []  # those not run yet
        self.run_after_requests = True

    def run(self) -> list[str]:
        """Run the pending reads, oldest first; their outcomes ("read", "skipped"...)."""
        from smartcard_route.mail.tasks import read_inbound_post

        outcomes = []
        while self.pending:
            outcomes.append(read_inbound_post(self.pending.pop(0)))
        return outcomes
