"""NHS.UK frontend's stylesheet, without the web fonts it would fetch from assets.nhs.uk.

The compiled nhsuk-frontend CSS declares the Frutiger web font with @font-face rules pointing at
https://assets.nhs.uk/fonts/. Every asset here is self-hosted and the Content Security Policy says
`font-src 'self'`; Chromium checks those rules against the policy as soon as it reads the
stylesheet, used or not, and reports a violation for each. The design system's answer is to compile
its Sass with `$nhsuk-include-font-face: false`; with no Sass compiler in the stack, this finder
offers the compiled stylesheet minus its remote @font-face rules, under its own name, so that
`runserver`/WhiteNoise (through the finders) and `collectstatic` both see it. Text then uses the
design system's fallback, Arial.

The file is rebuilt from node_modules whenever it differs (for example after an upgrade of
nhsuk-frontend), under VAR_DIR/build/static.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

NAME = "nhsuk/nhsuk-frontend-self-hosted.min.css"
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")
_REMOTE_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//", re.IGNORECASE)


def without_remote_font_faces(css: str) -> str:
    """The stylesheet minus every @font-face rule whose source is on another host."""
    return _FONT_FACE.sub(lambda rule: "" if _REMOTE_URL.search(rule.group(0)) else rule.group(0), css)


def _source() -> Path:
    return Path(settings.NODE_MODULES) / "nhsuk-frontend" / "dist" / "nhsuk" / "nhsuk-frontend.min.css"


class NhsukStylesheetFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.location = Path(settings.VAR_DIR) / "build" / "static"
        self.storage = FileSystemStorage(location=self.location)
        self._built_from: tuple[float, int] | None = None

    def _build(self) -> Path | None:
        source = _source()
        if not source.is_file():
            return None
        target = self.location / NAME
        stat = source.stat()
        if self._built_from == (stat.st_mtime, stat.st_size) and target.is_file():
            return target
        css = without_remote_font_faces(source.read_text(encoding="utf-8"))
        if not target.is_file() or target.read_text(encoding="utf-8") != css:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            partial.write_text(css, encoding="utf-8")
            partial.replace(target)  # atomic: a concurrent reader sees the old file or the new one
        self._built_from = (stat.st_mtime, stat.st_size)
        return target

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if not _source().is_file():
            return [
                Error(f"{_source()} is missing.", hint="Install the front-end packages: npm ci", id="smartcard.E001")
            ]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if path == NAME:
            built = self._build()
            if built is not None:
                return [str(built)] if find_all or kwargs.get("all") else str(built)
        return [] if find_all or kwargs.get("all") else None

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        if self._build() is not None:
            yield NAME, self.storage
