"""The web chat in a real browser (Debian's chromium through Playwright) against the real
stack: Rasa + actions + gateway, started once for the module.

Covers: a message and its reply, a quick-reply click, reload keeps the conversation, the
English switch, keyboard-only use, an axe-core audit (no serious/critical violations), the
hand-over to an operator and back, HTML injection shown as text, photo upload checks, and
screenshots (phone and desktop) saved under /tmp/bianmin-web-shots as test artefacts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, ROOT, Stack, start_stack, stop_stack
from tests.staff_helpers import login, make_user

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("BOT_WEB_SHOTS", "/tmp/bianmin-web-shots"))
OPERATOR, OPERATOR_PASSWORD = "mei", "operator-password-1"
INJECT = "<img src=x onerror=alert(1)>"
REPLY_MS = 60_000  # the first Rasa answer can be slow on a loaded 2-core machine

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists() or not AXE.exists(),
                                reason="needs Debian's chromium and node_modules/axe-core (scripts/setup.sh)")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("web"), extra_env={
        "BOT_RASA_TIMEOUT": "45", "BOT_HANDOFF_HOURS": "mon-sun 00:00-24:00"})
    try:
        make_user(OPERATOR, OPERATOR_PASSWORD, "operator", env=s.env, display_name="小美")
        yield s
    finally:
        stop_stack(s)


@pytest.fixture()
def page(browser, stack):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    p.goto(stack.url + "/")
    p.errors = errors
    yield p
    assert not errors, errors  # no script errors and, above all, no alert() from injected markup
    ctx.close()


def bubbles(page, who: str):
    return page.locator(f"#log .msg.{who}")


def send(page, text: str) -> int:
    """Send `text`, wait for the answer; returns how many bot bubbles there were before it."""
    before = bubbles(page, "bot").count() + bubbles(page, "system").count()
    bot_before = bubbles(page, "bot").count()
    page.fill("#text", text)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#log .msg.bot, #log .msg.system').length > n", arg=before, timeout=REPLY_MS)
    return bot_before


def answer(page, bot_before: int) -> str:
    """Everything the assistant said since `bot_before` (a reply can be several bubbles: the
    routing answer, then the case form's first question)."""
    found = bubbles(page, "bot")
    return "\n".join(found.nth(i).inner_text() for i in range(bot_before, found.count()))


def axe(page) -> list[dict]:
    # Evaluated through the DevTools protocol: the staff pages' CSP (script-src 'self') refuses
    # an injected <script>, and must not be loosened for a test tool.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in result["violations"]]


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_message_reply_reload_and_english(page) -> None:
    before = send(page, "巷口路燈不亮")
    assert "路燈" in answer(page, before)
    assert page.locator("#who-now").get_attribute("data-mode") == "bot"
    shot(page, "phone-chat")
    page.reload()
    page.wait_for_selector("#log .msg.me")
    assert "巷口路燈不亮" in page.locator("#log .msg.me").first.inner_text(), "reload keeps the conversation"
    page.click("#lang")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#handoff").inner_text() == "Talk to a person"
    assert bubbles(page, "me").first.locator(".who").inner_text().startswith("You")
    page.reload()
    assert page.locator("#send").inner_text() == "Send", "the language choice survives a reload"
    page.click("#lang")


def test_injected_markup_is_shown_as_text(page) -> None:
    send(page, INJECT)
    mine = bubbles(page, "me").last
    assert mine.locator(".body").inner_text() == INJECT
    assert page.locator("#log img").count() == 0


def test_keyboard_reaches_every_control(page) -> None:
    wanted = {"lang", "handoff", "photo", "locate", "address", "text", "send", "clear", "log"}
    reached: set[str] = set()
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement;
            const s = getComputedStyle(e); return {id: e.id, tag: e.tagName,
            ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }""")
        if info["id"]:
            reached.add(info["id"])
            assert info["ring"] or info["id"] == "photo", f"no visible focus on #{info['id']}"
    reached.update(page.evaluate("() => [...document.querySelectorAll('a.call')].map(a => a.className ? 'call' : '')"))
    assert wanted <= reached, f"not reachable by Tab: {wanted - reached}"
    # And the keyboard alone sends a message.
    page.focus("#text")
    page.keyboard.type("你好")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#log .msg.me').length >= 1", timeout=REPLY_MS)


def test_axe_finds_no_serious_violations_on_phone_and_desktop(page, browser, stack) -> None:
    # Rich replies rendered through the page's own module, with representative payloads.
    page.evaluate("""async () => {
        const r = await import('/static/render.js');
        const ctx = {lang: 'zh', compareSet: new Set(), onButton() {}, toggleCompare: () => true, compareNow() {}};
        const log = document.getElementById('log');
        const card = (id, title) => ({program_id: id, title, provider: '青年局', reason: '符合年齡',
            amount: '最高 10 萬', deadline: '2026/12/31', status: 'open', how_to_apply: '線上申請', buttons: [
              {title: '比較', payload: '/youth_compare{"program_id": "' + id + '"}'},
              {title: '洽詢專家', payload: '/youth_consult{"program_id": "' + id + '"}'}]});
        log.append(r.message({who: 'bot', text: '找到 2 個方案', custom: {type: 'youth_cards',
            cards: [card('a', '青年創業補助'), card('b', '青年創業貸款')]}}, ctx));
        log.append(r.message({who: 'bot', text: '', custom: {type: 'comparison',
            columns: [{title: '青年創業補助', provider: '青年局'}, {title: '青年創業貸款', provider: '經發局'}],
            rows: [{label: '金額', values: ['10 萬', '200 萬']}, {label: '期限', values: ['12/31', '隨時']}]}}, ctx));
        log.append(r.message({who: 'bot', text: '請確認通報內容', custom: {type: 'case_summary', draft: true,
            fields: [{label: '項目', value: '路燈故障'}, {label: '地點', value: '三民區建工路'}]}}, ctx));
    }""")
    assert page.locator("#log table th[scope=col]").count() == 2
    assert page.locator("#log article.card").count() == 3
    shot(page, "phone-rich")
    found = axe(page)
    print("axe phone:", json.dumps(found, ensure_ascii=False))
    assert not serious(found), found
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    p = desk.new_page()
    p.goto(stack.url + "/")
    shot(p, "desktop-chat")
    found = axe(p)
    print("axe desktop:", json.dumps(found, ensure_ascii=False))
    assert not serious(found), found
    desk.close()


def test_photo_upload_checks_type_client_side_and_sends_a_photo(page, tmp_path) -> None:
    bad = tmp_path / "note.txt"
    bad.write_text(INJECT)
    page.set_input_files("#photo", str(bad))
    page.wait_for_function("() => [...document.querySelectorAll('#log .msg.system')].some(m => "
                           "m.textContent.includes('只能上傳'))")
    from PIL import Image

    good = tmp_path / "lamp.png"
    Image.new("RGB", (40, 40), (250, 220, 0)).save(good)
    send(page, "巷口路燈不亮")
    before = bubbles(page, "bot").count()
    page.set_input_files("#photo", str(good))
    page.wait_for_function("n => document.querySelectorAll('#log .msg.bot').length > n", arg=before, timeout=REPLY_MS)
    assert "[照片]" in bubbles(page, "me").last.inner_text()
    page.fill("#address", "三民區建工路415號")
    page.click("#address-form button")
    page.wait_for_function("n => document.querySelectorAll('#log .msg.bot').length > n + 1", arg=before,
                           timeout=REPLY_MS)


def test_handoff_operator_answers_and_hands_back(page, browser, stack) -> None:
    send(page, "你好")
    page.click("#handoff")
    page.wait_for_function("() => document.getElementById('who-now').dataset.mode === 'queued'", timeout=REPLY_MS)
    page.fill("#text", INJECT)
    with page.expect_response(lambda r: r.url.endswith("/webhooks/rest/webhook")):
        page.keyboard.press("Enter")  # goes to the operator queue, not to Rasa

    op_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    op = op_ctx.new_page()
    op.on("dialog", lambda d: (page.errors.append("operator dialog"), d.dismiss()))
    op.goto(stack.url + "/staff/operator")  # not logged in: sent to the staff log-in page, then back
    assert "/staff/login" in op.url
    login(op, stack.url, OPERATOR, OPERATOR_PASSWORD)
    assert op.url.endswith("/staff/operator")
    op.wait_for_selector("#queue button")
    # Oldest first: other tests' conversations may be waiting too (e.g. two misunderstandings).
    op.locator("#queue button", has_text="民眾要求").last.click()
    op.wait_for_function("t => document.getElementById('transcript').textContent.includes(t)", arg=INJECT)
    assert op.locator("#transcript img").count() == 0, "citizen text is shown as text on the operator page"
    assert "你好" in op.locator("#transcript").inner_text()
    op.click("#take")
    op.fill("#reply-text", "您好，我是客服，請問需要什麼協助？")
    op.click("#reply-send")
    shot(op, "desktop-operator")
    found = axe(op)
    print("axe operator:", json.dumps(found, ensure_ascii=False))
    assert not serious(found), found

    page.wait_for_function("() => [...document.querySelectorAll('#log .msg.person')].some(m => "
                           "m.textContent.includes('請問需要什麼協助'))", timeout=15_000)
    person = bubbles(page, "person").last
    assert person.locator(".who").inner_text().startswith("真人客服")
    assert page.locator("#who-now").get_attribute("data-mode") == "person"
    assert "真人客服" in page.locator("#who-text").inner_text()
    shot(page, "phone-person")

    op.click("#release")
    page.wait_for_function("() => document.getElementById('who-now').dataset.mode === 'bot'", timeout=15_000)
    before = send(page, "巷口路燈不亮")
    assert "路燈" in answer(page, before), "the assistant answers again after hand-back"
    op_ctx.close()


def test_quick_reply_button_click(page) -> None:
    page.click("#handoff")
    button = page.locator("#log .choices button", has_text="回到小幫手")
    button.wait_for(timeout=REPLY_MS)
    button.focus()
    page.keyboard.press("Enter")  # a quick reply, chosen with the keyboard
    page.wait_for_function("() => document.getElementById('who-now').dataset.mode === 'bot'", timeout=REPLY_MS)
    assert page.locator("#log .choices button", has_text="回到小幫手").count() == 0, "answered buttons go away"
    assert "回到小幫手" in bubbles(page, "me").last.inner_text()
