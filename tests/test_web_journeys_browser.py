"""Citizen journeys of issue #18 ("## Tests") typed into the real chat page in Debian's chromium,
against the real stack (Rasa + actions + gateway, the module-scoped `stack` of
tests/test_web_browser.py: operator desk always staffed).

Not covered by the other browser tests, so here:
- digression inside a form: a question while the form asks where → answered, asked again → the
  place typed is read back;
- photo first: a PNG through the page's photo control before any words → what is wrong? → the
  report → the draft says 1 photo → 確認送出 → the filed case has 1 photo; then axe-core;
- follow-up on a second browser context (another device): case number + PIN → the reporter's card;
- English typed on the page → routed and answered in English;
- hand-over by text 「我要找真人」 → queued for a person (the mode banner), and back;
- a shared GPS position inside the form: the citizen's own bubble says 「📍 已分享位置」, never
  coordinates (nor 「[我的位置]」), and the reply reads the place back in words.

Assertions are on the reply protocol (the JSON the page received, custom.type) and on what
the page shows. Screenshots under /tmp/bianmin-web-shots (BOT_WEB_SHOTS) as test artefacts.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.test_cases_form import PNG  # a valid 1×1 PNG
from tests.test_web_browser import (  # noqa: F401  (stack is a fixture)
    REPLY_MS,
    answer,
    axe,
    bubbles,
    send,
    serious,
    shot,
    stack,
)

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
CJK = re.compile(r"[\u3400-\u9fff]")
PLACE = re.compile(r"建工路\s*100\s*號")


def webhook(resp) -> bool:
    return resp.url.endswith("/webhooks/rest/webhook") and resp.request.method == "POST"


def open_chat(browser, stack, **options):  # noqa: F811
    ctx = browser.new_context(viewport=PHONE, locale="zh-TW", **options)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(stack.url + "/")
    page.wait_for_selector("#log .msg.bot")  # the welcome line: the page's module has run
    page.errors = errors
    return ctx, page


def customs(replies: list[dict]) -> list[dict]:
    return [r.get("custom") or {} for r in replies]


def asked(replies: list[dict]) -> str | None:
    """The field the last case_field reply asks for."""
    fields = [c.get("field") for c in customs(replies) if c.get("type") == "case_field"]
    return fields[-1] if fields else None


def transcript(said: str, replies: list[dict]) -> None:
    print(f"\ncitizen: {said}")
    for r in replies:
        c = r.get("custom") or {}
        kind = "/".join(str(c.get(k)) for k in ("type", "field", "state", "service") if c.get(k))
        print(f"    assistant ({kind}): {(r.get('text') or '').replace(chr(10), ' / ')}")


def say(page, text: str) -> tuple[list[dict], str]:
    """Type `text` into the page and send it: (the replies the page received, what it shows)."""
    with page.expect_response(webhook, timeout=REPLY_MS) as got:
        before = send(page, text)
    replies = got.value.json()
    transcript(text, replies)
    return replies, answer(page, before)


def press(page, title: str) -> tuple[list[dict], str]:
    """Click the newest reply button titled `title`."""
    before = bubbles(page, "bot").count()
    with page.expect_response(webhook, timeout=REPLY_MS) as got:
        page.locator("#log .choices button:not(:disabled)", has_text=title).last.click()
    page.wait_for_function("n => document.querySelectorAll('#log .msg.bot').length > n", arg=before, timeout=REPLY_MS)
    replies = got.value.json()
    transcript(f"[{title}]", replies)
    return replies, answer(page, before)


def test_a_question_inside_the_form_is_answered_and_the_form_asks_again(browser, stack) -> None:  # noqa: F811
    ctx, page = open_chat(browser, stack)
    try:
        first, _ = say(page, "巷子口有個大洞")
        assert asked(first) == "location", first
        digress, shown = say(page, "送出後會馬上有人來嗎？")
        assert customs(digress)[0]["type"] == "answer" and "110" in shown, digress
        assert asked(digress) == "location", "the pending question is asked again"
        where, shown = say(page, "三民區建工路100號")
        assert asked(where) == "photo", where
        assert PLACE.search(shown), f"the place is read back: {shown}"
        shot(page, "phone-journey-digression")
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_photo_first_then_the_report_files_a_case_with_the_photo_followed_on_another_device(
        browser, stack, tmp_path) -> None:  # noqa: F811
    ctx, page = open_chat(browser, stack)
    try:
        png = tmp_path / "hole.png"
        png.write_bytes(PNG)
        before = bubbles(page, "bot").count()
        with page.expect_response(webhook, timeout=REPLY_MS) as got:
            page.set_input_files("#photo", str(png))
        page.wait_for_function("n => document.querySelectorAll('#log .msg.bot').length > n", arg=before,
                               timeout=REPLY_MS)
        photo = got.value.json()
        transcript("[photo]", photo)
        assert customs(photo)[-1] == {"type": "case_field", "field": "description", "service": ""}, photo
        assert "[照片]" in bubbles(page, "me").last.inner_text()

        report, shown = say(page, "三民區建工路100號路燈不亮")
        assert asked(report) == "confirm" and "照片：1" in shown, shown
        assert page.locator("#log article.card").count() >= 1, "the draft is drawn as a card"
        filed, shown = press(page, "確認送出")
        card = next(c for c in customs(filed) if c.get("type") == "case_filed")
        assert card["photos"] == 1, card
        number, pin = card["number"], card["pin"]
        assert number in shown and pin in shown, shown
        shot(page, "phone-journey-photo-first-filed")
        # axe-core on the page after the journey (the filed case's card drawn).
        found = axe(page)
        print("axe after journeys:", json.dumps(found, ensure_ascii=False))
        assert not serious(found), found
        assert not page.errors, page.errors
    finally:
        ctx.close()

    # Another device (a fresh browser context, another sender): number + PIN shows the reporter's card.
    other, page = open_chat(browser, stack)
    try:
        found, shown = say(page, f"{number} {pin}")
        summary = next(c for c in customs(found) if c.get("type") == "case_summary")
        assert summary["number"] == number and PLACE.search(summary.get("location") or ""), summary
        assert summary.get("history") and "pin" not in summary, summary
        assert number in shown and "已受理" in shown, shown
        shot(page, "phone-journey-followup-pin")
        assert not page.errors, page.errors
    finally:
        other.close()


def test_english_typed_on_the_page_is_answered_in_english(browser, stack) -> None:  # noqa: F811
    ctx, page = open_chat(browser, stack)
    try:
        before = bubbles(page, "bot").count()
        replies, _ = say(page, "The street light outside my house is broken")
        assert "routed" in [c.get("type") for c in customs(replies)], replies
        # The bubbles' words (not the 「小幫手：」 label: the page's own language is the #lang
        # button's choice): no Chinese, but for a gloss in brackets 「Public Works Bureau (養護工程處)」.
        found = bubbles(page, "bot")
        shown = "\n".join(found.nth(i).locator(".body").inner_text() for i in range(before, found.count()))
        assert "Street light" in shown and not CJK.search(re.sub(r"[（(][^)）]*[)）]", "", shown)), shown
        shot(page, "phone-journey-english")
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_asking_for_a_person_in_words_queues_for_the_desk(browser, stack) -> None:  # noqa: F811
    ctx, page = open_chat(browser, stack)
    try:
        replies, _ = say(page, "我要找真人")
        handoff = [c for c in customs(replies) if c.get("type") == "handoff"]
        assert handoff and handoff[0]["state"] == "queued", replies  # the desk is staffed all day
        page.wait_for_function("() => document.getElementById('who-now').dataset.mode === 'queued'",
                               timeout=REPLY_MS)
        shot(page, "phone-journey-handoff-text")
        # Back to the assistant with the reply button, so no one is left waiting in the queue.
        page.locator("#log .choices button", has_text="回到小幫手").last.click()
        page.wait_for_function("() => document.getElementById('who-now').dataset.mode === 'bot'",
                               timeout=REPLY_MS)
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_a_shared_location_is_shown_in_words_not_coordinates(browser, stack) -> None:  # noqa: F811
    # 三民區, by 建工路 (the project's gazetteer has landmarks around it).
    ctx, page = open_chat(browser, stack, geolocation={"latitude": 22.6489, "longitude": 120.3288},
                          permissions=["geolocation"])
    try:
        first, _ = say(page, "巷子口有個大洞")
        assert asked(first) == "location", first
        before = bubbles(page, "bot").count()
        with page.expect_response(webhook, timeout=REPLY_MS) as got:
            page.click("#locate")
        page.wait_for_function("n => document.querySelectorAll('#log .msg.bot').length > n", arg=before,
                               timeout=REPLY_MS)
        replies = got.value.json()
        transcript("[GPS]", replies)
        mine = bubbles(page, "me").last.inner_text()
        assert "已分享位置" in mine and "[我的位置]" not in mine, mine
        shown = answer(page, before)
        coordinates = re.compile(r"22\.\d{3}|120\.\d{3}")
        assert not coordinates.search(mine) and not coordinates.search(shown), shown
        assert "三民區" in shown, f"the place in words: {shown}"
        shot(page, "phone-journey-gps-label")
        assert not page.errors, page.errors
    finally:
        ctx.close()
