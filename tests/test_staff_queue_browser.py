"""The case queue in a real browser (Debian's chromium through Playwright) against the real
gateway process (uvicorn, as `bot run` starts it; the queue needs neither Rasa nor actions).

A supervisor (admin) types a case number in the console's search box and lands on that case,
sorts the queue by due date, sees the overdue cases with their badges and tallies, saves the
overdue view as a filter and gets it back after a reload; the transfer form offers agencies
first with nothing chosen; a handler's search box does not open another agency's case; a 1999
operator files a case a caller reports (suggestion from a stand-in for Rasa's /model/parse,
corrected, filed as channel `phone`) and sees it read-only.
Screenshots under /tmp/bianmin-queue-shots (queue.png is the queue sorted by due date).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.cases_fixtures import reset
from tests.conftest import CHROMIUM, ROOT, free_port
from tests.gateways import running_gateway
from tests.staff_helpers import login, make_users
from tests.test_staff_queue import FakeRasa

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("BOT_QUEUE_SHOTS", "/tmp/bianmin-queue-shots"))
PW = "staff-password-1"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() or not AXE.exists(),
                                 reason="needs Debian's chromium and node_modules (axe-core)")]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("queue")
    env = {k: v for k, v in os.environ.items() if k != "BOT_DATABASE_URL"}
    port = free_port()
    rasa = FakeRasa([{"name": "street_light_out", "confidence": 0.62},
                     {"name": "garbage_collection", "confidence": 0.33}])
    env.update({"BOT_VAR_DIR": str(tmp / "var"), "PORT": str(port), "BOT_RASA_URLS": rasa.url,
                "BOT_RASA_API_TOKEN": "queue-browser-token"})
    try:
        with running_gateway(env, tmp / "gateway.log", ready="/staff/login", ready_status=200, timeout=90) as gw:
            make_users([{"username": "sup", "password": PW, "role": "admin", "display_name": "1999 督導"},
                        {"username": "hank", "password": PW, "role": "handler", "agency": "PWB"},
                        {"username": "olive", "password": PW, "role": "operator"}], env=env)
            yield {"url": gw.url, "env": env, "var": tmp / "var", "rasa": rasa}
    finally:
        rasa.close()


@pytest.fixture(scope="module")
def cases(gateway) -> Iterator[dict]:
    """Cases filed straight into the gateway's database (same SQLite file), filed days ago so
    that some are past their service's expected days."""
    mp = pytest.MonkeyPatch()
    mp.setenv("BOT_VAR_DIR", str(gateway["var"]))
    mp.delenv("BOT_DATABASE_URL", raising=False)
    reset()
    from bot.cases import due, store
    from bot.catalogue import catalogue

    now = datetime.now(timezone.utc)

    def file(service: str, days_ago: float, place: str) -> str:
        return store.file_case(store.NewCase(service=service, channel="web", citizen="queue-cit", district="三民區",
                                             location_text=place, description="測試案件"),
                               now=now - timedelta(days=days_ago)).number

    made = {
        "pothole_late": file("road_pothole", 5, "三民區建工路1號"),          # 3 days: 2 days late
        "weeds_fresh": file("median_weeds", 1, "三民區九如路2號"),           # 7 days: due in 6
        "light_late": file("street_light_out", 9, "三民區大昌路3號"),        # 3 days: 6 days late
        "subsidence": file("road_subsidence", 0.5, "三民區民族路4號"),       # 2 days: due in 1.5
        "garbage_late": file("garbage_collection", 4, "三民區十全路5號"),    # EPB, 2 days: 2 days late
    }
    cat = catalogue()
    dues = {}
    for key, number in made.items():
        case = store.get_case(number)
        dues[key] = due.due_at(store.as_utc(case.created_at), cat.service(case.service))
    try:
        yield {"numbers": made, "due": dues}
    finally:
        reset()
        mp.undo()


@pytest.fixture()
def page(browser, gateway):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    yield p
    assert not errors, errors
    ctx.close()


def rows(page) -> list[str]:
    return page.eval_on_selector_all("#cases tbody tr", "trs => trs.map(t => t.dataset.number)")


def no_serious(page, name: str) -> None:
    # Through the DevTools protocol: the console's CSP (script-src 'self') refuses an injected <script>.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in result["violations"]]
    print(f"axe {name}:", json.dumps(found, ensure_ascii=False))
    assert not [v for v in found if v["impact"] in ("serious", "critical")], found


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_supervisor_finds_by_number_sorts_by_due_date_and_sees_overdue(page, gateway, cases) -> None:
    url, numbers, dues = gateway["url"], cases["numbers"], cases["due"]
    page.goto(url + "/staff/cases")
    login(page, url, "sup", PW)
    page.wait_for_selector("body[data-ready='1']")

    # A case number typed in the header's search box, as read out on the phone, opens that case.
    wanted = numbers["light_late"]
    page.fill("#case-search-q", wanted.lower().replace("-", ""))
    page.press("#case-search-q", "Enter")
    page.wait_for_url(f"**/staff/cases/{wanted}")
    page.wait_for_selector("body[data-ready='1']")
    assert wanted in page.locator("#title").inner_text()
    assert "已逾期" in page.locator("#facts").inner_text()

    # Back to the queue, sorted by due date (the column header), soonest first.
    page.goto(url + "/staff/cases")
    page.wait_for_selector("body[data-ready='1']")
    with page.expect_response(lambda r: "/staff/api/cases?" in r.url and "sort=due_at" in r.url):
        page.click("#cases th[data-sort='due_at'] button")
    page.wait_for_function("() => document.querySelector(\"#cases th[data-sort='due_at']\")"
                           ".getAttribute('aria-sort') === 'ascending'")
    by_due = sorted(numbers, key=lambda k: dues[k])
    assert rows(page) == [numbers[k] for k in by_due]
    assert "sort=due_at" in page.url, "the sort is kept in the address"
    late = {numbers[k] for k in ("pothole_late", "light_late", "garbage_late")}
    badged = page.eval_on_selector_all("#cases tbody tr", "trs => trs.filter(t => t.querySelector('.badge-overdue'))"
                                       ".map(t => t.dataset.number)")
    assert set(badged) == late, "an overdue badge on exactly the late open cases"
    assert page.locator(f"#cases tr[data-number='{numbers['light_late']}'] .badge-overdue").inner_text() == "逾期 6 天"
    assert page.locator("#count-overdue").inner_text() == "逾期 3"
    statuses = page.eval_on_selector_all("#counts [data-status]", "bs => bs.map(b => b.textContent)")
    assert statuses[0] == "已受理 5"
    agencies = page.eval_on_selector_all("#counts [data-agency]", "bs => bs.map(b => b.textContent)")
    assert agencies == ["工務局 4", "環境保護局 1"]
    no_serious(page, "queue")
    print("queue screenshot:", shot(page, "queue"))

    # The overdue view (the tally is a button), then saved and brought back after a reload.
    with page.expect_response(lambda r: "overdue=1" in r.url and "/staff/api/cases?" in r.url):
        page.click("#count-overdue")
    page.wait_for_function("() => document.querySelectorAll('#cases tbody tr').length === 3")
    assert set(rows(page)) == late and rows(page) == [n for n in (numbers[k] for k in by_due) if n in late]
    page.fill("#save-name", "逾期（依到期日）")
    page.click("#save-filter")
    page.goto(url + "/staff/cases")
    page.wait_for_selector("body[data-ready='1']")
    assert len(rows(page)) == 5
    page.click("#saved-list button[data-saved='逾期（依到期日）']")
    page.wait_for_function("() => document.querySelectorAll('#cases tbody tr').length === 3")
    assert page.locator("#f-overdue").is_checked() and page.input_value("#f-sort") == "due_at"
    shot(page, "queue-overdue")


def test_transfer_offers_agencies_first_nothing_chosen(page, gateway, cases) -> None:
    url, number = gateway["url"], cases["numbers"]["pothole_late"]
    login(page, url, "sup", PW)
    page.goto(f"{url}/staff/cases/{number}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('transfer-agency').options.length > 5")
    assert page.input_value("#transfer-agency") == "" and page.input_value("#transfer-service") == ""
    assert page.locator("#transfer-service").is_disabled(), "services only once an agency is picked"
    page.fill("#transfer-search", "垃圾")
    agencies = page.eval_on_selector_all("#transfer-agency option", "os => os.map(o => o.value)")
    assert agencies[0] == "" and "EPB" in agencies and len(agencies) < 10, agencies
    page.select_option("#transfer-agency", "EPB")
    services = page.eval_on_selector_all("#transfer-service option", "os => os.map(o => o.value)")
    assert services[0] == "" and "garbage_collection" in services
    assert page.input_value("#transfer-service") == "", "still nothing chosen"
    page.fill("#transfer-reason", "其實是垃圾問題")
    page.select_option("#transfer-service", "garbage_collection")
    page.click("#transfer-submit")
    page.wait_for_function("() => document.getElementById('transfer-msg').textContent.includes('環境保護局')")
    shot(page, "transfer")


def test_a_handlers_search_box_opens_only_their_agencys_cases(page, gateway, cases) -> None:
    url, numbers = gateway["url"], cases["numbers"]
    login(page, url, "hank", PW)
    page.goto(url + "/staff/cases")
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#case-search-q", numbers["garbage_late"])
    page.press("#case-search-q", "Enter")
    page.wait_for_url("**/staff/cases?q=*")
    page.wait_for_selector("body[data-ready='1']")
    assert rows(page) == [] and page.locator("#count").inner_text() == "共 0 件", "EPB's case is not shown"
    page.fill("#case-search-q", numbers["weeds_fresh"])
    page.press("#case-search-q", "Enter")
    page.wait_for_url(f"**/staff/cases/{numbers['weeds_fresh']}")


def test_operator_files_a_phone_case_and_sees_cases_read_only(page, gateway, cases) -> None:
    url = gateway["url"]
    login(page, url, "olive", PW)
    assert page.url.endswith("/staff/operator")
    page.goto(url + "/staff/phone")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#staff-nav a").all_inner_texts() == ["案件", "轉接", "電話受理", "送達失敗"]
    page.fill("#p-text", "我家巷口的路燈晚上都不亮")
    page.click("#p-suggest")
    page.wait_for_selector("#p-form:not([hidden])")
    assert "工務局・路燈故障" in page.locator("#p-suggestion").inner_text()
    assert page.input_value("#p-agency") == "PWB" and page.input_value("#p-service") == "street_light_out"
    assert page.locator("#p-alternatives button[data-service='garbage_collection']").count() == 1
    assert page.locator("#p-location").get_attribute("required") is not None, "a street light needs a place"
    assert page.input_value("#p-description") == "我家巷口的路燈晚上都不亮"
    # The caller says it is a hole in the road after all: corrected, then filed.
    page.select_option("#p-service", "road_pothole")
    page.fill("#p-location", "三民區建工路100號")
    page.fill("#p-caller", "0912345678")
    page.click("#p-file")
    page.wait_for_selector("#p-number")
    number = page.locator("#p-number").inner_text()
    shot(page, "phone-intake")
    no_serious(page, "phone")
    page.click("#p-number")
    page.wait_for_selector("body[data-ready='1']")
    facts = page.locator("#facts").inner_text()
    assert number in page.locator("#title").inner_text() and "phone" in facts and "道路坑洞" in facts
    assert page.locator("#status-form").is_hidden() and page.locator("#transfer-form").is_hidden(), "read-only"
    page.goto(url + "/staff/cases")
    page.wait_for_selector("body[data-ready='1']")
    assert cases["numbers"]["garbage_late"] in rows(page) and number in rows(page), "every agency's cases"
