"""A form drawn once and kept: the HTML of a form whose drawing depends only on its fields.

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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django import forms
from django.template import engines
from markupsafe import Markup

FRAGMENTS_KEPT = 512

_kept: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_lock = threading.Lock()


def _field_key(field: forms.BoundField) -> tuple[Any, ...]:
    choices: tuple[tuple[str, str], ...] | None = None
    if isinstance(field.field, forms.ChoiceField):
        # Read once (a ModelChoiceField queries its choices each time they are read) and kept on
        # this form's own copy of the field, for the template.
        # A comprehension, not list(): list() asks a ModelChoiceIterator its length, a COUNT query.
        current: Any = field.field.choices
        listed = [choice for choice in current]
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
    key = (template_name, form_key(form))
    if template.template.environment.auto_reload:  # type: ignore[attr-defined]
        return _drawn(template.render({"form": form}))
    with _lock:
        html = _kept.get(key)
        if html is not None:
            _kept.move_to_end(key)
            return _drawn(html)
    html = template.render({"form": form})
    with _lock:
        _kept[key] = html
        while len(_kept) > FRAGMENTS_KEPT:
            _kept.popitem(last=False)
    return _drawn(html)


def forget_fragments() -> None:
    """Drop every kept fragment (tests)."""
    with _lock:
        _kept.clear()
