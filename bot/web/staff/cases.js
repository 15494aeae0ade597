// Case list with filters, paging and a Leaflet map. Citizen text only ever via textContent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KAOHSIUNG = [22.68, 120.40];
  let page = 1, pages = 1, map = null, layer = null;

  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.append(o);
  }

  function params() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($("filters"))) if (v) q.set(k, v);
    return q;
  }

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    tr.append(td);
    return td;
  }

  async function loadList() {
    const q = params();
    q.set("page", String(page));
    const data = await staff.api("GET", "/staff/api/cases?" + q);
    const body = $("cases").querySelector("tbody");
    body.replaceChildren();
    for (const c of data.items) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      const a = document.createElement("a");
      a.href = "/staff/cases/" + encodeURIComponent(c.number);
      a.textContent = c.number;
      td.append(a);
      tr.append(td);
      cell(tr, c.service_name);
      cell(tr, c.agency_name);
      cell(tr, c.district || "");
      cell(tr, c.location);
      cell(tr, c.status_name).className = "status-cell";
      cell(tr, staff.fmtTime(c.created_at));
      tr.dataset.number = c.number;
      body.append(tr);
    }
    pages = Math.max(1, Math.ceil(data.total / data.per_page));
    $("count").textContent = "共 " + data.total + " 件";
    $("page-info").textContent = "第 " + data.page + " / " + pages + " 頁";
    $("prev").disabled = page <= 1;
    $("next").disabled = page >= pages;
  }

  function setupMap(tiles) {
    if (!window.L) { $("map-note").textContent = "地圖元件未載入。"; return; }
    map = L.map("map", {zoomControl: true, attributionControl: !!tiles}).setView(KAOHSIUNG, 10);
    if (tiles) {
      L.tileLayer(tiles, {maxZoom: 19}).addTo(map);
    } else {
      $("map-note").textContent = "未設定底圖（BOT_MAP_TILES_URL），只標出案件位置。";
    }
    layer = L.featureGroup().addTo(map);
  }

  async function loadMap() {
    if (!map) return;
    const data = await staff.api("GET", "/staff/api/cases-map?" + params());
    layer.clearLayers();
    for (const p of data.points) {
      const m = L.circleMarker([p.lat, p.lon], {radius: 7, color: "#0b5cad", weight: 2, fillColor: "#3d8bd9", fillOpacity: 0.8});
      const box = document.createElement("div");
      const a = document.createElement("a");
      a.href = "/staff/cases/" + encodeURIComponent(p.number);
      a.textContent = p.number;
      const info = document.createElement("p");
      info.textContent = p.service + "・" + p.status;
      box.append(a, info);
      m.bindPopup(box);
      m.addTo(layer);
    }
    $("map").dataset.points = String(data.points.length);
    if (data.points.length) map.fitBounds(layer.getBounds().pad(0.2), {maxZoom: 15});
  }

  async function refresh() {
    $("list-error").textContent = "";
    try {
      await Promise.all([loadList(), loadMap()]);
    } catch (e) {
      $("list-error").textContent = e.message;
    }
  }

  async function init() {
    const user = await staff.nav("cases");
    const opts = await staff.api("GET", "/staff/api/catalogue");
    if (user.role === "admin") {
      for (const a of opts.agencies) option($("f-agency"), a.id, a.name + "（" + a.id + "）");
    } else {
      $("agency-wrap").hidden = true;
    }
    const services = user.role === "admin" ? opts.services : opts.services.filter((s) => s.agency === user.agency);
    for (const s of services) option($("f-service"), s.id, s.name);
    for (const d of opts.districts) option($("f-district"), d, d);
    for (const s of opts.statuses) option($("f-status"), s.id, s.name);
    const q = new URLSearchParams(location.search);
    for (const [k, v] of q) { const el = $("filters").elements[k]; if (el) el.value = v; }
    setupMap(opts.map_tiles || "");
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      page = 1;
      history.replaceState(null, "", "?" + params());
      refresh();
    });
    $("filters").addEventListener("reset", () => setTimeout(() => { page = 1; history.replaceState(null, "", "?"); refresh(); }));
    $("prev").addEventListener("click", () => { if (page > 1) { page--; loadList().catch((e) => { $("list-error").textContent = e.message; }); } });
    $("next").addEventListener("click", () => { if (page < pages) { page++; loadList().catch((e) => { $("list-error").textContent = e.message; }); } });
    await refresh();
    document.body.dataset.ready = "1";
  }

  init().catch((e) => { $("list-error").textContent = e.message; });
})();
