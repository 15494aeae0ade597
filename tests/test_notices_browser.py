"""The broadcast page in a real browser (Debian's chromium via Playwright) against a real gateway
process (its own SQLite database, quiet hours off) and the fake LINE API: a broadcaster composes a
notice to 三民區's water subscribers, sees its reach and LINE cost before sending, and sees its
delivery figures; an emergency broadcast waits until a second staff member approves it in the
page, then reaches every LINE follower and the web subscriber. axe-core: no serious or critical
violations. Screenshots: /tmp/bianmin-staff-shots/broadcasts-*.png."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM, ROOT, free_port
from tests.fake_line_api import FakeLineAPI
from tests.gateways import running_gateway
from tests.staff_helpers import login

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("BOT_STAFF_SHOTS", "/tmp/bianmin-staff-shots"))
PASSWORD = "browser-notices-password-1"
TOKEN = "browser-notices-token"
CITIZEN = "browser-notice-citizen"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() or not AXE.exists(), reason="needs Debian's chromium and axe-core in node_modules"
    ),
]

# Staff accounts (the CLI's --role choices do not list broadcaster yet) and LINE followers, as a
# follow event records them: U…1-3 subscribed to water in 三民區, U…4 in 苓雅區, U…5-6 not subscribed.
SEED = """
from bot import db
from bot.channels import line_users
from bot.notices import subscriptions
from bot.privacy import pseudonym
from bot.staff import accounts
db.create_tables()
accounts.create_user("bella", PASSWORD, "broadcaster", display_name="Bella")
accounts.create_user("boris", PASSWORD, "broadcaster", display_name="Boris")
for n in range(1, 7):
    user = f"U{n:032x}"
    line_users._remember(pseudonym("line", user), user, True, 1)
    if n <= 4:
        subscriptions.subscribe("line", pseudonym("line", user), ["water"], ["三民區" if n <= 3 else "苓雅區"])
"""


def user(n: int) -> str:
    return f"U{n:032x}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLineAPI]:
    api = FakeLineAPI(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fake) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("notices")
    port = free_port()
    env = {
        **os.environ,
        "BOT_VAR_DIR": str(tmp / "var"),
        "BOT_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "PORT": str(port),
        "BOT_NOTICE_QUIET_HOURS": "off",
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_HOST": fake.url,
    }
    env.pop("BOT_RASA_API_TOKEN", None)
    env.pop("LINE_CHANNEL_SECRET", None)
    with running_gateway(env, tmp / "gateway.log", ready="/staff/login", ready_status=200, timeout=90) as gw:
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-c", f"PASSWORD = {PASSWORD!r}\n" + SEED],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
        # A web citizen subscribes in the chat, through the gateway (answered before Rasa: none runs here).
        said = httpx.post(
            f"{gw.url}/webhooks/rest/webhook",
            json={"sender": CITIZEN, "message": "我要訂閱停水通知 三民區", "metadata": {"channel": "web"}},
            timeout=60,
        ).json()
        assert said[0]["custom"]["action"] == "subscribed", said
        yield gw.url


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.errors = errors
    yield p
    assert not errors, errors
    ctx.close()


def no_serious(page) -> None:
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in result["violations"]]
    print("axe broadcasts:", json.dumps(found))
    assert not [v for v in found if v["impact"] in ("serious", "critical")], found


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def row_text(page, broadcast_id: int) -> str:
    return page.locator(f"#b-list tbody tr[data-id='{broadcast_id}']").inner_text()


def wait_sent(page, broadcast_id: int) -> str:
    """The page after the notice was sent (it is sent just after the answer): reload until it says so."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page.reload()
        page.wait_for_selector(f"#b-list tbody tr[data-id='{broadcast_id}']")
        text = row_text(page, broadcast_id)
        if "已送出" in text:
            return text
        time.sleep(0.5)
    raise AssertionError(row_text(page, broadcast_id))


def test_a_broadcaster_sends_a_district_notice_and_a_second_person_approves_an_emergency(
    browser, page, gateway, fake
) -> None:
    page.goto(gateway + "/staff/broadcasts")
    login(page, gateway, "bella", PASSWORD)
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#b-topic", "water")
    with page.expect_response("**/staff/api/broadcasts/preview"):
        page.check("#b-district-list input[value='三民區']")
    sync_api.expect(page.locator("#b-reach-text")).to_contain_text("將送給 4 人（LINE 3 人、網頁 1 人）")
    assert "3 則訊息（1 次呼叫" in page.locator("#b-reach-text").inner_text()
    page.fill("#b-text", "12/8 09:00–17:00 建工路一帶停水，請事先儲水。")
    page.fill("#b-link", "https://www.water.gov.tw/")
    no_serious(page)
    shot(page, "broadcasts-compose")
    with page.expect_response("**/staff/api/broadcasts") as created:
        page.click("#b-send")
    district = created.value.json()["id"]
    text = wait_sent(page, district)
    cells = text.split("\t")
    assert cells[5:9] == ["4", "0", "0", "1／3"], cells  # sent, failed, blocked, LINE calls／billed messages
    assert sorted(fake.calls("/v2/bot/message/multicast")[0].body["to"]) == [user(1), user(2), user(3)]
    assert fake.texts_to(user(4)) == [] and fake.texts_to(user(5)) == []  # 苓雅區; not subscribed
    notices = httpx.get(f"{gateway}/api/notifications", params={"sender": CITIZEN}, timeout=10).json()
    assert [n["custom"]["action"] for n in notices] == ["notice"] and "建工路一帶停水" in notices[0]["text"]
    shot(page, "broadcasts-sent")

    # An emergency: composed by bella, waits for a second person.
    page.select_option("#b-topic", "typhoon")
    page.uncheck("#b-district-list input[value='三民區']")
    with page.expect_response("**/staff/api/broadcasts/preview"):
        page.check("#b-emergency")
    sync_api.expect(page.locator("#b-reach-text")).to_contain_text("將送給 7 人（LINE 6 人、網頁 1 人）")
    page.fill("#b-text", "颱風警報：明日全市停班停課。")
    with page.expect_response("**/staff/api/broadcasts") as created:
        page.click("#b-send")
    urgent = created.value.json()["id"]
    sync_api.expect(page.locator("#b-msg")).to_contain_text("等待另一位同仁核准")
    sync_api.expect(page.locator(f"#b-list tbody tr[data-id='{urgent}']")).to_contain_text("等待另一位同仁核准")
    assert page.locator(f"#b-list tbody tr[data-id='{urgent}'] button.approve").count() == 0
    assert all(not t.startswith("【緊急通知】") for n in range(1, 7) for t in fake.texts_to(user(n)))

    second = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW").new_page()
    second.goto(gateway + "/staff/broadcasts")
    login(second, gateway, "boris", PASSWORD)
    second.wait_for_selector("body[data-ready='1']")
    approve = second.locator(f"#b-list tbody tr[data-id='{urgent}'] button.approve")
    approve.wait_for()
    shot(second, "broadcasts-approve")
    with second.expect_response(f"**/staff/api/broadcasts/{urgent}/approve") as approved:
        approve.click()
    assert approved.value.status == 200
    cells = wait_sent(second, urgent).split("\t")
    assert cells[5:9] == ["7", "0", "0", "1／6"], cells
    for n in range(1, 7):
        assert [t for t in fake.texts_to(user(n)) if t.startswith("【緊急通知】")], n
    notices = httpx.get(f"{gateway}/api/notifications", params={"sender": CITIZEN}, timeout=10).json()
    assert notices[0]["custom"]["emergency"] is True
    shot(second, "broadcasts-emergency-sent")
    second.context.close()
