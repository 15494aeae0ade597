"""The youth consultation journey in a real browser (Debian's chromium through Playwright)
against the real stack (Rasa + actions + gateway): the page's own example answered with youth
cards, 洽詢專家 on a card, a phone number and two time slots, a reference number; then a Youth
Bureau handler finds it in the staff console (/staff/youth/consults). Screenshots are kept
under /tmp/bianmin-web-shots as test artefacts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, Stack, start_stack, stop_stack
from tests.staff_helpers import login, make_users
from tests.test_web_browser import AXE, REPLY_MS, answer, axe, bubbles, send, serious, shot

STAFF, STAFF_PASSWORD = "youthdesk", "youth-desk-password-1"
OTHER, OTHER_PASSWORD = "pwbdesk", "pwb-desk-password-1"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() or not AXE.exists(),
        reason="needs Debian's chromium and node_modules/axe-core (scripts/setup.sh)",
    ),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("youth"), extra_env={"BOT_RASA_TIMEOUT": "45"})
    try:
        make_users([{"username": STAFF, "password": STAFF_PASSWORD, "role": "handler", "agency": "YOUTH",
                     "display_name": "青年局承辦"},
                    {"username": OTHER, "password": OTHER_PASSWORD, "role": "handler", "agency": "PWB"}], env=s.env)
        yield s
    finally:
        stop_stack(s)


def wait_bot(page, before: int) -> str:
    page.wait_for_function("n => document.querySelectorAll('#log .msg.bot').length > n", arg=before, timeout=REPLY_MS)
    return answer(page, before)


def test_consult_from_a_card_reaches_the_staff_console(browser, stack) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(stack.url + "/")

    before = send(page, "我28歲想開早餐店有補助嗎")
    said = answer(page, before)
    assert "28歲" in said and "工時" not in said and "老人" not in said, said
    page.locator("#log article.card").first.wait_for(timeout=REPLY_MS)
    shot(page, "phone-youth-cards")

    before = bubbles(page, "bot").count()
    page.locator("#log article.card").first.locator("button", has_text="洽詢專家").click()
    assert "LINE" in wait_bot(page, before)

    before = send(page, "0912345678")
    asked = answer(page, before)
    assert "時段" in asked and "0912345678" not in asked, asked
    before = bubbles(page, "bot").count()
    page.locator("#log .choices button", has_text="平日上午").last.click()
    assert "還需要一個" in wait_bot(page, before)
    before = send(page, "週四下午3點")
    done = answer(page, before)
    ref = re.search(r"Y\d{6}", done)
    assert ref and "平日上午、週四下午3點" in done and "0912***678" in done, done
    shot(page, "phone-youth-consult-booked")
    assert not errors, errors

    # The Youth Bureau's handler sees it, with how and when to call; another agency's does not.
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    desk = staff_ctx.new_page()
    desk.goto(stack.url + "/staff/youth/consults")
    login(desk, stack.url, STAFF, STAFF_PASSWORD)
    assert desk.url.endswith("/staff/youth/consults")
    row = desk.locator("#consults tbody tr", has_text=ref.group(0))
    row.wait_for(timeout=30_000)
    text = row.inner_text()
    assert "0912345678" in text and "平日上午、週四下午3點" in text and "待聯絡" in text, text
    row.locator("button", has_text="標為已聯絡").click()
    desk.wait_for_function(
        "r => [...document.querySelectorAll('#consults tbody tr')].some("
        "t => t.textContent.includes(r) && t.textContent.includes('已聯絡'))",
        arg=ref.group(0),
    )
    shot(desk, "desktop-youth-consults")
    found = axe(desk)
    print("axe consults:", json.dumps(found, ensure_ascii=False))
    assert not serious(found), found
    staff_ctx.close()

    other_ctx = browser.new_context()
    other = other_ctx.new_page()
    other.goto(stack.url + "/staff/login")
    login(other, stack.url, OTHER, OTHER_PASSWORD)
    status = other.evaluate("async () => (await fetch('/staff/api/youth/consults')).status")
    assert status == 403
    other_ctx.close()
    ctx.close()
    assert "0912345678" not in stack.log(), "the phone number never reaches a log line"
