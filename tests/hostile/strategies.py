"""Hostile text for hypothesis: what an attacker or a careless paste sends (issue 10, part 2).

Control characters including NUL, lone surrogates, right-to-left overrides, digits of other
scripts, markup, a 100,000-character string and the empty string, mixed with arbitrary text.
Pages cannot receive a lone surrogate (a browser sends bytes, and Django decodes invalid UTF-8 as
U+FFFD), so `form_text` sends them as the bytes a broken client would; JSON can carry them as
escapes, so `api_text` keeps them as they are.
"""

from __future__ import annotations

from hypothesis import strategies as st

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'><svg/onload=alert(1)>'
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x07\x08\x0b\x0c\x1b\x7f",
    "\r\n\r\n",
    "\u202eevil\u202c",  # right-to-left override
    "\u2066\u2067\u2068\u2069\u200f\u200e",
    "\ufeff\u200b\u00ad",
    "٠١٢٣٤٥٦٧٨٩٠١",  # Arabic-Indic digits: 12 of them
    "１２３４５６７８９０１２",  # fullwidth digits
    "¹²³⁴⁵⁶⁷⁸⁹⁰¹²",  # superscripts: isdigit() but not int()
    "SC-²",
    "SC-" + "9" * 40,
    "9" * 40,
    XSS,
    "{{ 7*7 }}{% raw %}${7*7}",
    "=cmd|' /C calc'!A0",
    "x" * 100_000,
    "é" * 100_000,
]
SURROGATES = ["\ud800", "a\udfffb", "\udc80\ud800"]

_characters = st.characters(codec=None, exclude_categories=())
_text = st.text(_characters, max_size=40)

# Text a page can receive (after Django's decoding), and text the API can receive in JSON.
form_text = st.one_of(st.sampled_from(NASTY), _text.filter(lambda s: not _has_surrogate(s)))
api_text = st.one_of(st.sampled_from(NASTY + SURROGATES), _text)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= character <= "\udfff" for character in text)


def has_surrogate(text: str) -> bool:
    return _has_surrogate(text)
