"""Reading rendered pages in tests: the text a person sees in one part of a page."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Collector(HTMLParser):
    """Collects the text inside every element that matches (by id, or by one of its classes)."""

    def __init__(self, *, id: str | None, class_name: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.id, self.class_name = id, class_name
        self.depth = 0  # open elements inside the current match (0: not in one)
        self.texts: list[list[str]] = []
        self.hrefs: list[str] = []

    def _matches(self, attrs: list[tuple[str, str | None]]) -> bool:
        values = dict(attrs)
        if self.id is not None:
            return values.get("id") == self.id
        return self.class_name in (values.get("class") or "").split()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.texts[-1].append(" ")  # a tag between words separates them, as most do on screen
            if tag == "a":
                self.hrefs.append(dict(attrs).get("href") or "")
            if tag not in VOID:
                self.depth += 1
        elif self._matches(attrs) and tag not in VOID:
            self.depth = 1
            self.texts.append([])

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in VOID:
            self.texts[-1].append(" ")
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.texts[-1].append(data)


def _collect(html: str, *, id: str | None = None, class_name: str | None = None) -> _Collector:
    collector = _Collector(id=id, class_name=class_name)
    collector.feed(html)
    collector.close()
    return collector


def texts_of(html: str, *, id: str | None = None, class_name: str | None = None) -> list[str]:
    """The visible text of each element with this id or class, white space collapsed."""
    return [" ".join("".join(parts).split()) for parts in _collect(html, id=id, class_name=class_name).texts]


def text_of(html: str, *, id: str | None = None, class_name: str | None = None) -> str:
    """The text of the first matching element, '' when there is none."""
    found = texts_of(html, id=id, class_name=class_name)
    return found[0] if found else ""


def links_in(html: str, *, id: str | None = None, class_name: str | None = None) -> list[str]:
    """The href of every link inside the matching elements."""
    return _collect(html, id=id, class_name=class_name).hrefs
