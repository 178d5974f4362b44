"""Steps the browser tests share: watching a run page, reading numbers off the page, looking at a model."""

from __future__ import annotations

import base64
import re
import time

from playwright.sync_api import Page, expect


def watch_run(
    page: Page, until: str = "Completed", seen: list[str] | None = None, timeout: float = 300
) -> list[str]:
    """The states a run page showed, in order, until one starts with `until`; fails if the page reloaded.

    The page polls the API itself: the test only reads what it shows. A marker set on the window when the
    watch starts (`seen` empty) proves that no reload happened since; pass the same `seen` to watch on.
    """
    seen = [] if seen is None else seen
    if not seen:
        page.evaluate("window.twinbridgeTestNotReloaded = true")
    state = page.get_by_test_id("run-state").first
    deadline = time.monotonic() + timeout
    while True:
        text = (state.text_content() or "").strip()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text.startswith(until):
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


def assert_model_drawn(page: Page) -> int:
    """Waits until the 3D view shows its element count; checks that its canvas drew something. The count."""
    count = number_in(page, "element-count")
    assert count > 0
    canvas = page.get_by_test_id("viewer-canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box
    assert box["width"] >= 400, f"the canvas is too small to see: {box}"
    assert box["height"] >= 300, f"the canvas is too small to see: {box}"
    page.wait_for_timeout(500)  # the first frames after the model loaded
    share = drawn_share(page, canvas.screenshot())
    assert share > 0.01, f"the canvas is blank ({share:.2%} of its pixels differ from its background)"
    return count


def select_an_element(page: Page) -> None:
    """Clicks the canvas from its centre outwards until a click selects an element; checks its properties."""
    canvas = page.get_by_test_id("viewer-canvas")
    box = canvas.bounding_box()
    assert box
    selected = page.get_by_test_id("element-properties").get_by_test_id("element-globalid")
    centre_first = [(4, 4)] + [
        (x, y)
        for radius in (1, 2, 3)
        for x in range(4 - radius, 5 + radius)
        for y in (4 - radius, 4 + radius)
    ]
    for x, y in centre_first:
        canvas.click(position={"x": box["width"] * x / 8, "y": box["height"] * y / 8})
        try:
            expect(selected).to_be_visible(timeout=1_500)
        except AssertionError:
            continue
        expect(page.get_by_test_id("element-class")).to_have_text(re.compile(r"^Ifc\w+$"))
        # An IFC GlobalId: 22 characters of IFC's base-64 alphabet.
        expect(selected).to_have_text(re.compile(r"^[0-9A-Za-z_$]{22}$"))
        return
    raise AssertionError("no click on the canvas selected an element")


def drawn_share(page: Page, png: bytes) -> float:
    """The share of a screenshot's pixels that differ from its most common colour (0 for a blank canvas).

    The browser decodes the PNG (no image library in Python's test dependencies), on a page of its own.
    """
    decoder = page.context.new_page()
    try:
        share: float = decoder.evaluate(
            """async (encoded) => {
                const image = new Image();
                image.src = `data:image/png;base64,${encoded}`;
                await image.decode();
                const canvas = new OffscreenCanvas(image.width, image.height);
                const context = canvas.getContext("2d");
                context.drawImage(image, 0, 0);
                const data = context.getImageData(0, 0, image.width, image.height).data;
                const pixels = new Uint32Array(data.buffer);
                const counts = new Map();
                let most = 0;
                for (const pixel of pixels) {
                    const count = (counts.get(pixel) ?? 0) + 1;
                    counts.set(pixel, count);
                    if (count > most) most = count;
                }
                return 1 - most / pixels.length;
            }""",
            base64.b64encode(png).decode(),
        )
    finally:
        decoder.close()
    return share
