"""HTML drawn once and kept: a form whose drawing depends only on its fields, and the page's
header and footer, whose drawing depends only on what their key names.

The issue list's filters are ten NHS.UK form macros (label, hint, error message, attributes, each
option of the RA and LPC lists): about half of the list page's Python at every request
(docs/benchmarks.md, "Lists and issue pages after the deferred join"), for HTML that is the same
for everyone with the same filter values and the same RA and LPC choices; the issue page's action
forms (radios, textareas) were 40% of that page's. `form_fragment` draws
the form's template once per such combination and keeps the HTML (in this process, the most
recently used FRAGMENTS_KEPT), so the page's HTML is byte for byte what drawing it each time gives.

The key is everything the template may read of each field: its name, id, label, hint, value,
errors, widget and choices (a ModelChoiceField's choices are read once, here, and kept on the
field, so the template does not query them again: the page's query count is the same whether the
HTML was kept or drawn). The template must read nothing else: no request, no user, no time.
With templates reloaded as they change (DEBUG), nothing is kept.

The header and footer (templates/base.jinja, `kept_html`): NHS.UK frontend's header macro costs
about 1.4 ms a page and its footer 0.4 ms, for HTML that depends only on the user's name, their
navigation links and the site's URLs. The header's one per-request part, the logout form's CSRF
token, is drawn as `SLOT` and put in after: a random string per process, which no text of a user's
can foresee.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django import forms
from django.template import engines
from markupsafe import Markup

FRAGMENTS_KEPT = 512

# Where a kept fragment's per-request part goes (`kept_html`).
SLOT = f"kept-slot-{secrets.token_hex(16)}"

_kept: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_lock = threading.Lock()


def _field_key(field: forms.BoundField) -> tuple[Any, ...]:
    choices: tuple[tuple[str, str], ...] | None = None
    if isinstance(field.field, forms.ChoiceField):
        # Read once (a ModelChoiceField queries its choices each time they are read) and kept on
        # this form's own copy of the field, for the template.
        listed = _choices(field.field)
        if isinstance(field.field, forms.ModelChoiceField):
            # What ModelChoiceField returns as its choices once they are set (its _get_choices);
            # through the `choices` setter, django-filter would wrap them in a new iterator.
            field.field._choices = listed  # type: ignore[attr-defined]
        choices = tuple((str(value), str(text)) for value, text in listed)
    return (
        field.html_name,
        field.auto_id,
        str(field.label),
        str(field.help_text),
        field.widget_type,
        getattr(field.field.widget, "input_type", None),
        repr(field.value()),
        tuple(str(error) for error in field.errors),
        choices,
    )


def _choices(field: forms.ChoiceField) -> list[Any]:
    """The field's choices, as its template would read them, in at most one plain query.

    A ModelChoiceField's iterator reads its queryset with `iterator()`, which on PostgreSQL is a
    server-side cursor (DECLARE, FETCH, CLOSE: three round trips and a held cursor for a list of
    forty RAs): here the queryset is read as a list and each object made a choice by the iterator
    itself, after what the iterator yields first (its empty label, and django-filter's null label).
    A comprehension, not list(): list() asks a ModelChoiceIterator its length, a COUNT query.
    """
    if not isinstance(field, forms.ModelChoiceField):
        current: Any = field.choices
        return [choice for choice in current]
    iterator = field.iterator(field)
    head: list[Any] = []
    if field.empty_label is not None:
        head.append(("", field.empty_label))
    null_label = getattr(field, "null_label", None)  # django_filters.fields.ModelChoiceField
    if null_label is not None:
        head.append((field.null_value, null_label))  # type: ignore[attr-defined]
    queryset = field.queryset
    objects: list[Any] = list(queryset) if queryset is not None else []
    return [*head, *(iterator.choice(obj) for obj in objects)]


def form_key(form: forms.Form) -> tuple[Any, ...]:
    """What a template drawing only the form's fields may depend on."""
    return (
        type(form).__module__,
        type(form).__qualname__,
        tuple(str(error) for error in form.non_field_errors()),
        *(_field_key(field) for field in form),
    )


def _drawn(html: str) -> Markup:
    """A template's output, already escaped by its autoescaping environment, as HTML to include."""
    return Markup(html)  # noqa: S704 (the autoescaped output of one of our own templates)


def form_fragment(template_name: str, form: forms.Form) -> Markup:
    """The HTML of `template_name` drawn with `form` (its only variable), kept for the next form
    with the same key."""
    template = engines["jinja2"].get_template(template_name)
    return kept_html((template_name, form_key(form)), lambda: template.render({"form": form}))


def kept_html(key: tuple[Any, ...], draw: Callable[[], str], slot: str = "") -> Markup:
    """The HTML `draw()` gives (autoescaped template output), drawn once per `key` and kept, with
    `slot` (escaped HTML) put where the drawing wrote SLOT. Everything the drawing reads but SLOT
    must be in the key; with templates reloaded as they change (DEBUG), nothing is kept."""
    keep = not engines["jinja2"].env.auto_reload  # type: ignore[attr-defined]
    html: str | None = None
    if keep:
        with _lock:
            html = _kept.get(key)
            if html is not None:
                _kept.move_to_end(key)
    if html is None:
        html = str(draw())
        if keep:
            with _lock:
                _kept[key] = html
                while len(_kept) > FRAGMENTS_KEPT:
                    _kept.popitem(last=False)
    return _drawn(html.replace(SLOT, str(slot)) if slot else html)


def forget_fragments() -> None:
    """Drop every kept fragment (tests)."""
    with _lock:
        _kept.clear()
