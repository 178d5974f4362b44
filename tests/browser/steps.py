"""Steps the browser tests share: watching a run page, reading numbers off the page, clicking on a model."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect


def watch_run_until_completed(page: Page, test_id: str = "run-state", timeout: float = 300) -> list[str]:
    """The states a run page showed, in order, until it showed Completed; fails if the page reloaded.

    The page polls the API itself: the test only reads what it shows, and a marker set on the window before
    proves that no reload happened on the way.
    """
    page.evaluate("window.twinbridgeTestNotReloaded = true")
    state = page.get_by_test_id(test_id).first
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        text = (state.text_content() or "").strip()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text.startswith("Completed"):
            break
        assert time.monotonic() < deadline, f"the run page still shows {seen[-1:]} (seen: {seen})"
        page.wait_for_timeout(100)
    assert page.evaluate("window.twinbridgeTestNotReloaded === true"), "the run page reloaded"
    return seen


def number_in(page: Page, test_id: str) -> int:
    """The first whole number in an element's text ("1,234 elements" → 1234), once it shows one."""
    element = page.get_by_test_id(test_id).first
    expect(element).to_have_text(re.compile(r"\d"))
    match = re.search(r"\d[\d,\u202f\u00a0 ]*", element.text_content() or "")
    assert match, element.text_content()
    return int(re.sub(r"\D", "", match.group()))
