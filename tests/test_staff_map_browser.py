"""The case map in a real browser (Debian's chromium through Playwright) against the real gateway
process, with no tile server: the 38 district boundaries with their names, the located cases in
clusters whose counts add up to the cases, and the density view (districts coloured by their open
cases, a legend, a table with the same figures, filtered by service), axe clean in both views; a
handler's density view holds only their agency's cases.
Screenshots under /tmp/bianmin-map-shots (map-clusters.png, map-density.png, map-density-service.png).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cases_fixtures import reset
from tests.conftest import CHROMIUM, ROOT, free_port
from tests.gateways import running_gateway
from tests.staff_helpers import login, make_users

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CLUSTER_JS = ROOT / "node_modules" / "leaflet.markercluster" / "dist" / "leaflet.markercluster.js"
SHOTS = Path(os.environ.get("BOT_MAP_SHOTS", "/tmp/bianmin-map-shots"))
PW = "staff-password-1"
DARKEST, ZERO = "#bd0026", "#f4f4f2"  # map.js: the top density class, and no cases

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() or not AXE.exists() or not CLUSTER_JS.exists(),
                                 reason="needs Debian's chromium and node_modules (axe-core, leaflet.markercluster)")]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("map")
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_DATABASE_URL", "BOT_MAP_TILES_URL")}
    port = free_port()
    env.update({"BOT_VAR_DIR": str(tmp / "var"), "PORT": str(port)})
    with running_gateway(env, tmp / "gateway.log", ready="/staff/login", ready_status=200, timeout=90) as gw:
        make_users([{"username": "sup", "password": PW, "role": "admin"},
                    {"username": "hank", "password": PW, "role": "handler", "agency": "PWB"}], env=env)
        yield {"url": gw.url, "env": env, "var": tmp / "var"}


def spots(district: str, centre: tuple[float, float], n: int, seed: int) -> list[tuple[float, float]]:
    """n positions near `centre` that bot.geo places inside `district`."""
    from bot.geo import boundaries

    rnd, out = random.Random(seed), []
    while len(out) < n:
        lat, lon = centre[0] + rnd.uniform(-0.006, 0.006), centre[1] + rnd.uniform(-0.006, 0.006)
        area = boundaries.locate(lat, lon)
        if area is not None and area.inside and area.district == district:
            out.append((round(lat, 6), round(lon, 6)))
    return out


@pytest.fixture(scope="module")
def cases(gateway) -> Iterator[dict]:
    """Located cases filed straight into the gateway's database (same SQLite file): a crowd in
    三民區, fewer in 鳳山區, a few in 旗山區; some closed; two without a district (placed by position)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("BOT_VAR_DIR", str(gateway["var"]))
    mp.delenv("BOT_DATABASE_URL", raising=False)
    reset()
    from bot.cases import store

    plan = [("三民區", (22.645, 120.318), 40, ("road_pothole", "street_light_out", "garbage_collection")),
            ("鳳山區", (22.626, 120.357), 15, ("street_light_out", "garbage_collection")),
            ("旗山區", (22.888, 120.483), 3, ("road_pothole",))]
    open_counts: Counter[str] = Counter()
    lights: Counter[str] = Counter()
    pwb: Counter[str] = Counter()
    total = 0
    for k, (district, centre, n, services) in enumerate(plan):
        for i, (lat, lon) in enumerate(spots(district, centre, n, seed=k)):
            service = services[i % len(services)]
            number = store.file_case(store.NewCase(
                service=service, channel="web", citizen=f"map-cit-{k}-{i}", lat=lat, lon=lon,
                district=None if i in (1, 2) else district, location_text=f"{district}測試路{i}號",
                description="地圖測試")).number
            total += 1
            if i % 8 == 7:
                store.change_status(number, "closed", "修好了", "staff:test")
                continue
            open_counts[district] += 1
            lights[district] += service == "street_light_out"
            pwb[district] += service in ("road_pothole", "street_light_out")
    try:
        yield {"total": total, "open": open_counts, "lights": lights, "pwb": pwb}
    finally:
        reset()
        mp.undo()


@pytest.fixture()
def page(browser, gateway):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield p
    assert not errors, errors
    ctx.close()


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
    page.locator("#map-panel").screenshot(path=str(path))
    return path


CLUSTERED = """() => {
  const inClusters = [...document.querySelectorAll('#map .case-cluster [aria-hidden]')]
    .reduce((n, s) => n + Number(s.textContent), 0);
  return {clusters: document.querySelectorAll('#map .case-cluster').length,
          pins: document.querySelectorAll('#map .case-pin').length, inClusters};
}"""


def density_rows(page) -> dict[str, int]:
    return dict(page.eval_on_selector_all(
        "#density-table tbody tr[data-district]",
        "trs => trs.map(t => [t.dataset.district, Number(t.cells[1].textContent)])"))


def nonzero(counts) -> dict[str, int]:
    return {d: n for d, n in counts.items() if n}


def fill(page, district: str) -> str:
    return page.eval_on_selector(f"#map path[data-district='{district}']", "p => p.getAttribute('fill')")


def test_boundaries_clusters_and_density_without_tiles(page, gateway, cases) -> None:
    url = gateway["url"]
    page.goto(url + "/staff/cases")
    login(page, url, "sup", PW)
    page.wait_for_selector("body[data-ready='1']")

    # Boundaries: every district drawn, with names, and the data's attribution shown.
    assert page.get_attribute("#map", "data-districts") == "38"
    assert page.locator("#map path.district").count() == 38
    assert page.locator("#map path.leaflet-interactive").count() == 0, "the land is not a click target"
    assert page.locator("#map.no-tiles").count() == 1 and "行政區界" in page.inner_text("#map-note")
    assert "內政部" in page.inner_text("#map .leaflet-control-attribution")
    # After the view settles on the cases, the districts wide enough on screen carry their names.
    page.wait_for_function("() => document.querySelectorAll('#map .district-label').length >= 10")
    names = page.eval_on_selector_all("#map .district-label", "ls => ls.map(l => l.textContent)")
    assert len(names) >= 10 and "三民區" in names and "旗山區" in names, names

    # Clusters: the located cases (closed ones too: the list shows every status) add up.
    page.wait_for_function(f"() => ({CLUSTERED})().inClusters + ({CLUSTERED})().pins === {cases['total']}")
    seen = page.evaluate(CLUSTERED)
    assert page.get_attribute("#map", "data-points") == str(cases["total"])
    assert seen["clusters"] >= 2 and seen["clusters"] + seen["pins"] < cases["total"], seen
    print(f"clusters at {cases['total']} points, zoom {page.get_attribute('#map', 'data-zoom')}:", seen)
    no_serious(page, "map-clusters")
    print("clusters screenshot:", shot(page, "map-clusters"))

    # A cluster is a button, reached by keyboard too: Enter on the biggest zooms in.
    zoom = int(page.get_attribute("#map", "data-zoom"))
    biggest = page.evaluate("""() => {
      const n = (c) => Number(c.querySelector('[aria-hidden]').textContent);
      const cs = [...document.querySelectorAll('#map .case-cluster')].sort((a, b) => n(b) - n(a));
      cs[0].id = 'biggest-cluster'; return n(cs[0]); }""")
    assert int(biggest) >= 10
    assert page.get_attribute("#biggest-cluster", "role") == "button"
    page.focus("#biggest-cluster")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => Number(document.getElementById('map').dataset.zoom) > {zoom}")
    page.wait_for_function(f"() => ({CLUSTERED})().clusters + ({CLUSTERED})().pins > {seen['clusters']}")
    page.wait_for_timeout(400)  # not a check: lets the cluster-split animation finish for the screenshot
    print("zoomed in:", page.evaluate(CLUSTERED), shot(page, "map-clusters-zoomed"))

    # Density: districts coloured by open cases; legend on the map; the table says the same.
    page.check("#mode-density")
    page.wait_for_selector("#map[data-density-query='status=open']", state="attached")
    rows = density_rows(page)
    assert nonzero(rows) == nonzero(cases["open"]), rows
    assert page.locator("#map .case-cluster, #map .case-pin").count() == 0, "the density view hides the cases"
    assert fill(page, "三民區") == DARKEST and fill(page, "美濃區") == ZERO
    assert fill(page, "鳳山區") not in (DARKEST, ZERO)
    legend = page.eval_on_selector_all("#map .map-legend li", "ls => ls.map(l => [l.textContent, l.dataset.colour])")
    assert legend[0] == ["0", ZERO] and legend[-1][1] == DARKEST and len(legend) == 6, legend
    assert page.locator("#map .district-label .district-count").count() == 3, "names carry the counts"
    # The table: one row per district with cases, most first, then the rest in one row (35 names).
    assert list(rows) == ["三民區", "鳳山區", "旗山區"]
    assert page.inner_text("#density-none th") == "其餘 35 區" and "美濃區" in page.inner_text("#density-none")
    assert page.locator("#density-table caption").inner_text().startswith("各行政區案件數（未結案）")
    no_serious(page, "map-density")
    print("density screenshot:", shot(page, "map-density"))

    # Filtered by service: street lights only.
    page.select_option("#d-service", "street_light_out")
    page.wait_for_selector("#map[data-density-query='service=street_light_out&status=open']", state="attached")
    rows = density_rows(page)
    assert nonzero(rows) == nonzero(cases["lights"]), rows
    assert "路燈" in page.inner_text("#density-table tr[data-district='三民區'] td:last-child")
    shot(page, "map-density-service")

    # Back to the cases: the clusters return, the districts lose their colours.
    page.check("#mode-points")
    page.wait_for_function(f"() => ({CLUSTERED})().inClusters + ({CLUSTERED})().pins > 0")
    assert page.locator("#density-wrap").is_hidden() and fill(page, "三民區") == "#f7f3e8"


def test_a_handlers_density_holds_their_agency_only(page, gateway, cases) -> None:
    url = gateway["url"]
    login(page, url, "hank", PW)
    page.goto(url + "/staff/cases")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#d-agency-wrap").is_hidden()
    page.check("#mode-density")
    page.wait_for_selector("#map[data-density-query='status=open']", state="attached")
    rows = density_rows(page)
    assert nonzero(rows) == nonzero(cases["pwb"]), rows
    services = page.eval_on_selector_all("#d-service option", "os => os.map(o => o.value)")
    assert "street_light_out" in services and "garbage_collection" not in services
