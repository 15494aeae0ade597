"""The month-at-a-glance, curation and knowledge pages in a real browser (Debian's chromium via
Playwright) against a real gateway process on its own SQLite database and a copy of the
knowledge base: charts render (canvas present and painted), axe-core finds no serious or
critical violations, a curator assigns a queued message and edits an answer (and an invalid
edit shows its error), a handler sees only their agency. Screenshots: /tmp/bianmin-staff-shots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, ROOT, free_port
from tests.gateways import running_gateway
from tests.staff_helpers import login, make_users

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHART = ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
SHOTS = Path(os.environ.get("BOT_STAFF_SHOTS", "/tmp/bianmin-staff-shots"))
PASSWORD = "browser-staff-password-1"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() or not AXE.exists() or not CHART.exists(),
                                reason="needs Debian's chromium, axe-core and chart.js in node_modules")]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("staffpages")
    kb = tmp / "knowledge_base"
    shutil.copytree(ROOT / "knowledge_base", kb)
    port = free_port()
    env = {**os.environ, "BOT_VAR_DIR": str(tmp / "var"), "BOT_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
           "BOT_KB_DIR": str(kb), "BOT_CURATED_DIR": str(tmp / "curated"), "PORT": str(port)}
    env.pop("BOT_RASA_API_TOKEN", None)
    with running_gateway(env, tmp / "gateway.log", ready="/staff/login", ready_status=200, timeout=60) as gw:
        make_users([{"username": "curator1", "password": PASSWORD, "role": "curator"},
                    {"username": "admin1", "password": PASSWORD, "role": "admin"},
                    {"username": "pwb1", "password": PASSWORD, "role": "handler", "agency": "PWB"}], env=env)
        _seed(env)
        yield gw.url, env


SEED = """
from datetime import datetime, timedelta, timezone
from bot import db
from bot.cases.store import Case, CaseEvent
from bot.staff import curation
db.create_tables()
start = datetime(2026, 11, 2, tzinfo=timezone.utc)
with db.session_factory()() as s:
    rows = [("street_light_out", "PWB", "三民區"), ("road_pothole", "PWB", "苓雅區"),
            ("garbage_collection", "EPB", "左營區"), ("illegal_parking", "POL", "三民區")]
    for i, (svc, agency, district) in enumerate(rows * 3):
        at = start + timedelta(days=i * 2)
        c = Case(number=f"B{i:07d}", service=svc, agency=agency, unit="u", district=district, channel="web",
                 citizen="p", created_at=at, updated_at=at)
        c.history += [CaseEvent(at=at, status="received"), CaseEvent(at=at + timedelta(hours=5 + i), status="closed")]
        s.add(c)
    s.add_all([db.MessageLog(at=start + timedelta(hours=7 * i), channel="web", sender="p", status="ok", latency_ms=9)
               for i in range(60)])
    s.commit()
curation.record("clarify", "阿伯的輪椅補助要問哪裡", predicted_service="disability_welfare", predicted_agency="SAB",
                channel="web", citizen="p")
curation.record("fallback", "<img src=x onerror=alert(1)> 那個東西壞了", predicted_service=None, predicted_agency=None,
                channel="line", citizen="q")
"""


def _seed(env: dict[str, str]) -> None:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", SEED], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def new_page(browser, width: int = 1280, height: int = 900):
    # bypass_csp: axe-core is injected as an inline script, which the console's CSP forbids.
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-TW", bypass_csp=True)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.errors.append(f"dialog: {d.message}"), d.dismiss()))
    return ctx, page


def axe_serious(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in result["violations"]]
    print("axe:", json.dumps(found, ensure_ascii=False))
    return [v for v in found if v["impact"] in ("serious", "critical")]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


PAINTED = """id => {
  const c = document.getElementById(id);
  if (!c || !c.width || !c.height) return 0;
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
}"""


def test_reports_page_draws_charts_and_passes_axe(gateway, browser) -> None:
    url, _ = gateway
    ctx, page = new_page(browser)
    login(page, url, "admin1", PASSWORD)
    page.goto(f"{url}/staff/reports?month=2026-11")
    page.wait_for_function("() => document.getElementById('totals').dataset.cases === '12'", timeout=30_000)
    for chart in ("chart-agency", "chart-week", "chart-district", "chart-close"):
        assert page.evaluate(PAINTED, chart) > 500, f"{chart} is blank"
    rows = page.locator("#table-agency tbody tr")
    assert rows.count() == 3 and "6" in rows.first.inner_text()  # PWB: 6 cases
    assert "反問率" in page.locator("#totals").inner_text()
    assert page.locator("#csv").get_attribute("href") == "/staff/api/reports/2026-11.csv"
    shot(page, "desktop-reports")
    assert not axe_serious(page)
    assert not page.errors, page.errors
    ctx.close()

    ctx, phone = new_page(browser, 390, 844)
    login(phone, url, "pwb1", PASSWORD)
    phone.goto(f"{url}/staff/reports?month=2026-11")
    phone.wait_for_function("() => document.getElementById('totals').dataset.cases === '6'", timeout=30_000)
    assert phone.locator("#agency-box").is_hidden()
    assert phone.locator("#table-agency tbody tr").count() == 1
    assert "反問率" not in phone.locator("#totals").inner_text()
    assert phone.evaluate(PAINTED, "chart-week") > 500
    shot(phone, "phone-reports-handler")
    assert not axe_serious(phone)
    assert phone.goto(f"{url}/staff/curation").status == 403  # a handler does not curate
    ctx.close()


def test_curator_assigns_a_message_and_edits_an_answer(gateway, browser) -> None:
    url, env = gateway
    ctx, page = new_page(browser)
    login(page, url, "curator1", PASSWORD)
    page.goto(f"{url}/staff/curation")
    page.wait_for_selector("#queue tbody tr")
    assert page.locator("#queue tbody tr").count() == 2
    injected = page.locator("#queue td.text", has_text="onerror")
    assert injected.inner_text().startswith("<img")  # shown as text, never as markup
    assert page.locator("#queue img").count() == 0
    shot(page, "desktop-curation")
    assert not axe_serious(page)

    row = page.locator("#queue tbody tr", has_text="輪椅補助")
    page.fill("#service-search", "身心障礙")
    row.locator("select").select_option("disability_welfare")
    row.locator("button.assign").click()
    page.wait_for_function("() => document.getElementById('queue-message').textContent.includes('已加入訓練例句')")
    assert page.locator("#queue tbody tr").count() == 1
    curated = Path(env["BOT_CURATED_DIR"]) / "disability_welfare.yml"
    assert "阿伯的輪椅補助要問哪裡" in curated.read_text(encoding="utf-8")
    assert "# added by curator1 at " in curated.read_text(encoding="utf-8")

    page.goto(f"{url}/staff/knowledge")
    page.wait_for_selector("#entry option[value='street_light_out']", state="attached")
    page.select_option("#entry", "street_light_out")
    page.wait_for_selector("#editor:not([hidden])")
    page.fill("#f-answer_zh", "")
    page.click("#save")
    page.wait_for_selector("#save-message .error")
    assert "回答（中文）" in page.locator("#save-message").inner_text()
    pwb = Path(env["BOT_KB_DIR"]) / "services" / "pwb.yml"
    assert "請告訴我路燈位置" in pwb.read_text(encoding="utf-8")  # nothing was written
    page.fill("#f-answer_zh", "路燈不亮請告訴我位置，工務局會派人修理。")
    page.click("#save")
    page.wait_for_selector("#save-message .ok")
    assert "路燈不亮請告訴我位置，工務局會派人修理。" in pwb.read_text(encoding="utf-8")
    assert "路燈不亮請告訴我位置" in page.locator("#history tbody").inner_text()
    shot(page, "desktop-knowledge")
    assert not axe_serious(page)

    page.select_option("#kind", "youth")
    page.wait_for_selector("#entry option[value='kyb-startup-grant-general']", state="attached")
    page.select_option("#entry", "kyb-startup-grant-general")
    page.wait_for_selector("#f-category")
    shot(page, "desktop-knowledge-youth")
    assert not axe_serious(page)
    assert not page.errors, page.errors
    ctx.close()
