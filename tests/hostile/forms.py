"""Every form of a page (POST and GET), read from its HTML, so the hostile-input tests fill each field a
user can type into without a hand-written list that could fall behind the templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote

TYPED = {"text", "email", "tel", "search", "password", "url", "number", "date", "textarea", ""}


@dataclass
class Form:
    action: str
    method: str = "post"
    typed: list[str] = field(default_factory=list)  # fields a user types into
    fixed: list[tuple[str, str]] = field(default_factory=list)  # hidden fields, a choice of each set
    _chosen: set[str] = field(default_factory=set)


class _Forms(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            method = "post" if a.get("method", "").lower() == "post" else "get"
            self.current = Form(action=a.get("action") or self.page_url, method=method)
            self.forms.append(self.current)
        form = self.current
        if form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "textarea":
            form.typed.append(name)
        elif tag == "input":
            kind = a.get("type", "").lower()
            if kind in TYPED:
                form.typed.append(name)
            elif kind == "hidden":
                form.fixed.append((name, a.get("value", "")))
            elif kind in ("radio", "checkbox") and name not in form._chosen:
                form._chosen.add(name)
                form.fixed.append((name, a.get("value", "on")))
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and self.select not in form._chosen and a.get("value"):
            form._chosen.add(self.select)
            form.fixed.append((self.select, a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def forms_of(html: str, page_url: str) -> list[Form]:
    parser = _Forms(page_url)
    parser.feed(html)
    return parser.forms


def urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """A form body as a broken client would send it: a lone surrogate becomes the (invalid UTF-8)
    bytes it would have been, which Django decodes as U+FFFD."""
    return "&".join(
        f"{quote(name)}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}" for name, value in pairs
    ).encode()
