"""Driving a page by keyboard alone, as someone who cannot use a mouse does: Tab and Shift+Tab to
move, Enter and Space to follow a link, press a button or open a disclosure, the arrow keys inside a
group of radios (the browser's own keys for them), and typing. No click, no `fill`.

Every element reached by Tab must show that it has focus: `tab_to` compares a screenshot of the
element and its surroundings with focus and without it (the NHS.UK yellow focus style, or whatever
the page draws), so an element whose focus cannot be seen fails the test.
"""

from __future__ import annotations

from typing import Any

MAX_TABS = 150  # more presses than any page of the site needs to reach any control
FOCUS_MARGIN = 8  # focus rings are drawn up to 4 px outside an element (NHS.UK's box shadows)

_BOX = """el => {
  const r = el.getBoundingClientRect();
  return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};
}"""


class FocusNotVisible(AssertionError):
    pass


def has_focus(locator: Any) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def focused_description(page: Any) -> str:
    return str(
        page.evaluate(
            "() => { const el = document.activeElement; if (!el) return 'nothing';"
            " return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' '"
            " + (el.innerText || el.value || el.name || '').trim().slice(0, 60); }"
        )
    )


def _shot(page: Any, locator: Any) -> bytes:
    box = locator.evaluate(_BOX)
    clip = {
        "x": max(box["x"] - FOCUS_MARGIN, 0),
        "y": max(box["y"] - FOCUS_MARGIN, 0),
        "width": box["width"] + 2 * FOCUS_MARGIN,
        "height": box["height"] + 2 * FOCUS_MARGIN,
    }
    return bytes(page.screenshot(clip=clip, full_page=True, animations="disabled", caret="hide"))


def assert_focus_visible(page: Any, locator: Any) -> None:
    """The focused element looks different without focus (its focus is visible), then has it back."""
    focused = _shot(page, locator)
    locator.evaluate("el => el.blur()")
    unfocused = _shot(page, locator)
    locator.evaluate("el => el.focus({focusVisible: true})")
    if focused == unfocused:
        raise FocusNotVisible(f"no visible focus on {focused_description(page)}")


def tab_to(page: Any, locator: Any, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until the element has focus, and see that its focus is visible."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        if has_focus(locator):
            assert_focus_visible(page, locator)
            return
    where = focused_description(page)
    raise AssertionError(f"{MAX_TABS} presses of {key} never reached {locator}; focus is on {where}")


def press(page: Any, locator: Any, key: str = "Enter") -> None:
    """Tab to a link, button or summary and press Enter (or Space) on it."""
    tab_to(page, locator)
    page.keyboard.press(key)


def type_into(page: Any, field: Any, text: str) -> None:
    """Tab to a field and type into it."""
    tab_to(page, field)
    page.keyboard.type(text)


def choose(page: Any, radio: Any) -> None:
    """Tab into a group of radios and move to this one with the arrow keys (Space when focus lands on it)."""
    name = radio.get_attribute("name")
    group = page.locator(f"input[type=radio][name='{name}']")
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if group.evaluate_all("(els) => els.includes(document.activeElement)"):
            break
    else:
        raise AssertionError(f"Tab never reached the radios {name}")
    for _ in range(group.count()):
        if has_focus(radio):
            break
        page.keyboard.press("ArrowDown")
    assert has_focus(radio), f"the arrow keys never reached {radio}"
    page.keyboard.press("Space")  # checks it when Tab landed on it; the arrow keys have already
    assert radio.is_checked()
    assert_focus_visible(page, radio)
