"""The citizen chat page's layout and button behaviour in a real browser (Debian's chromium
through Playwright) against the real stack (issue #18 item 10).

- At 400 % zoom of a 1280×1024 desktop (a 320×256 CSS px viewport) the header takes at most a
  quarter of the screen and the message input can be brought into view without being covered.
- On a phone (390×844) the header takes at most 15 % of the height.
- After a reply button is pressed, focus is back in the message input.
- Once the citizen answers (a button or a new message), earlier reply buttons are disabled and
  marked aria-disabled, so an old choice cannot be sent again.
- axe-core at 320 px (in the zoom test): no violations at all.

Screenshots are saved under /tmp/web-layout/ (BOT_WEB_LAYOUT_SHOTS) as test artefacts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_web_browser import REPLY_MS, axe, bubbles, stack  # noqa: F401  (stack is a fixture)

SHOTS = Path(os.environ.get("BOT_WEB_LAYOUT_SHOTS", "/tmp/web-layout"))
ZOOM400 = {"width": 320, "height": 256}  # 1280×1024 at 400 % zoom
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow


def open_page(browser, stack, viewport: dict):  # noqa: F811
    ctx = browser.new_context(viewport=viewport, locale="zh-TW")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(stack.url + "/")
    page.wait_for_selector("#log .msg.bot")  # the welcome line: the module has run
    page.errors = errors
    return ctx, page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def header_height(page) -> float:
    return page.evaluate("() => document.querySelector('header.top').getBoundingClientRect().height")


def input_uncovered(page) -> dict:
    """Bring the input into view (as focusing it does) and ask what is drawn at its centre."""
    page.focus("#text")
    return page.evaluate("""() => { const t = document.getElementById('text');
        const r = t.getBoundingClientRect(); const x = r.left + r.width / 2, y = r.top + r.height / 2;
        return {inView: r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth,
                onTop: document.elementFromPoint(x, y) === t,
                pageWidth: document.documentElement.scrollWidth}; }""")


def test_header_is_compact_at_400_percent_zoom(browser, stack) -> None:  # noqa: F811
    ctx, page = open_page(browser, stack, ZOOM400)
    try:
        shot(page, "zoom400-320x256-top")
        height = header_height(page)
        assert height <= 0.25 * ZOOM400["height"], f"header is {height:.0f} px of {ZOOM400['height']}"
        seen = input_uncovered(page)
        shot(page, "zoom400-320x256-input")
        assert seen["inView"] and seen["onTop"], seen
        assert seen["pageWidth"] <= ZOOM400["width"], "the page itself must not scroll sideways (reflow)"
        # The compact header (sideways-scrolling controls) must not cost accessibility: no axe findings at all.
        found = axe(page)
        print("axe 320px:", json.dumps(found, ensure_ascii=False))
        assert found == [], found
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_header_is_small_on_a_phone(browser, stack) -> None:  # noqa: F811
    ctx, page = open_page(browser, stack, PHONE)
    try:
        shot(page, "phone-390x844")
        height = header_height(page)
        assert height <= 0.15 * PHONE["height"], f"header is {height:.0f} px of {PHONE['height']}"
        # The human-help controls stay on screen on a phone, not hidden away.
        for sel in ("#handoff", "a.call[href='tel:1999']", ".emerg a[href='tel:110']"):
            assert page.locator(sel).is_visible(), sel
    finally:
        ctx.close()


def test_a_new_message_retires_earlier_buttons(browser, stack) -> None:  # noqa: F811
    ctx, page = open_page(browser, stack, PHONE)
    try:
        page.click("#handoff")
        first = page.locator("#log .choices button", has_text="回到小幫手").first
        first.wait_for(timeout=REPLY_MS)
        assert first.is_enabled()
        # A new typed message: the earlier choice is out of date and cannot be sent any more.
        mine = bubbles(page, "me").count()
        page.fill("#text", "請問還要等多久")
        page.keyboard.press("Enter")
        page.wait_for_function("n => document.querySelectorAll('#log .msg.me').length > n", arg=mine)
        assert first.is_disabled()
        assert first.get_attribute("aria-disabled") == "true"
        shot(page, "phone-old-button-disabled")
        mine = bubbles(page, "me").count()
        first.click(force=True)  # a click on the old button sends nothing
        assert bubbles(page, "me").count() == mine
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_reply_button_returns_focus_and_retires_the_other_choices(browser, stack) -> None:  # noqa: F811
    ctx, page = open_page(browser, stack, PHONE)
    try:
        # Programme cards: each card has its own row of reply buttons.
        page.fill("#text", "我28歲想創業有補助嗎")
        page.keyboard.press("Enter")
        rows = page.locator("#log .card .choices")
        rows.nth(1).wait_for(timeout=REPLY_MS)
        # Tag every reply button on the page now, so buttons of the next answer are not counted.
        earlier = page.evaluate("""() => { const all = [...document.querySelectorAll('#log .choices button')];
            all.forEach(b => b.dataset.earlier = '1'); return all.length; }""")
        assert earlier >= 2
        shot(page, "phone-cards-before")
        used = rows.first.locator("button:not([aria-pressed])").first  # a reply, not the compare toggle
        used.click()
        assert page.evaluate("() => document.activeElement && document.activeElement.id") == "text"
        live = page.evaluate("""() => [...document.querySelectorAll('#log .choices button[data-earlier]')]
            .filter(b => !b.disabled).map(b => b.textContent)""")
        assert live == [], f"earlier buttons still usable: {live}"
        retired = page.locator("#log .choices button[data-earlier]")
        assert retired.count() >= 1
        assert all(retired.nth(i).get_attribute("aria-disabled") == "true" for i in range(retired.count()))
        shot(page, "phone-cards-after")
        assert not page.errors, page.errors
    finally:
        ctx.close()
