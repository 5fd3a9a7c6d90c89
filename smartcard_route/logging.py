"""Structured logging: one JSON object a line on stdout, for any log collector."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Logs carry ids, never personal data (DESIGN.md, "Personal data"). Log lines are written so; a
# traceback's text is not ours to choose (an exception may quote an address), so email addresses
# in it are masked as a safety net.
_EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MASKED_ADDRESS = "[email address]"

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Anything passed with extra={...} becomes a field of its own.
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            payload["exception"] = _EMAIL_ADDRESS.sub(MASKED_ADDRESS, self.formatException(record.exc_info))
        return json.dumps(payload)
