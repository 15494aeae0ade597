// The case map on /staff/cases: Kaohsiung's 38 district boundaries (GET /staff/api/districts, from
// the Ministry of the Interior's village boundaries) so the map reads without a tile server, the
// located cases of the list's filter in clusters (leaflet.markercluster), and a density view: the
// districts coloured by how many cases they hold (GET /staff/api/cases-density), with its own
// service / agency / status choices, a legend and the same figures as a table.
// window.caseMap = {setup(catalogue, user), load(query)}; cases.js calls both.
// Citizen data (case numbers, service names) only ever via textContent / title.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const KAOHSIUNG = [22.68, 120.40];
  // ColorBrewer YlOrRd, 5 classes; zero is a light grey so "none" differs from "few".
  const COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  const ZERO = "#f4f4f2";
  const LAND = {color: "#4d5866", weight: 1.2, fillColor: "#f7f3e8", fillOpacity: 1};
  const LABEL_MIN_PX = 46; // a district narrower than this on screen gets no name (the table has it)
  let map = null, districts = null, labels = null, clusters = null, legend = null;
  let features = [], counts = {}, breaks = [], mode = "points", cat = null, user = null;
  let densitySeq = 0;

  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.append(o);
  }

  // --- boundaries and names --------------------------------------------------------------

  function labelIcon(f) {
    const box = document.createElement("span");
    const name = document.createElement("span");
    name.textContent = f.properties.name;
    box.append(name);
    if (mode === "density" && counts[f.properties.name]) {
      const n = document.createElement("span");
      n.className = "district-count";
      n.textContent = String(counts[f.properties.name]);
      box.append(" ", n);
    }
    return L.divIcon({className: "district-label", html: box, iconSize: null});
  }

  function placeLabels() {
    if (!labels) return;
    labels.clearLayers();
    for (const f of features) {
      const b = f.layer.getBounds();
      const wide = map.latLngToLayerPoint(b.getNorthEast()).x - map.latLngToLayerPoint(b.getSouthWest()).x;
      if (wide < LABEL_MIN_PX) continue;
      L.marker(f.properties.label, {icon: labelIcon(f), interactive: false, keyboard: false, pane: "districtLabels"})
        .addTo(labels);
    }
    $("map").dataset.labels = String(labels.getLayers().length);
    $("map").dataset.zoom = String(map.getZoom());
  }

  async function loadDistricts() {
    const geo = await staff.api("GET", "/staff/api/districts");
    features = [];
    // Not interactive: a click or a tab goes to the cases, never to the land under them; the
    // figures a hover could show are on the labels and in the table.
    districts = L.geoJSON(geo, {
      interactive: false,
      style: () => ({...LAND, className: "district"}),
      onEachFeature: (f, layer) => { f.layer = layer; features.push(f); },
    }).addTo(map);
    for (const f of features) f.layer.getElement().dataset.district = f.properties.name; // for tests and styling
    // Names in a pane of their own, above the districts and below the cases (markerPane is 600).
    map.createPane("districtLabels").style.zIndex = "450";
    labels = L.layerGroup().addTo(map);
    map.attributionControl.addAttribution(geo.attribution);
    $("map").dataset.districts = String(features.length);
    map.fitBounds(districts.getBounds(), {animate: false}); // no animation: the cases' view comes next
    map.on("zoomend", placeLabels);
    placeLabels();
  }

  // --- located cases, clustered ---------------------------------------------------------------

  function clusterIcon(c) {
    const n = c.getChildCount();
    const size = n < 10 ? 34 : n < 100 ? 40 : 48;
    const box = document.createElement("span");
    const shown = document.createElement("span");
    shown.setAttribute("aria-hidden", "true");
    shown.textContent = String(n);
    const said = document.createElement("span");
    said.className = "sr-only";
    said.textContent = n + " 件案件，按一下放大";
    box.append(shown, said);
    return L.divIcon({html: box, className: "case-cluster", iconSize: L.point(size, size)});
  }

  const pin = () => L.divIcon({className: "case-pin", iconSize: L.point(16, 16)});

  async function loadPoints(query) {
    const data = await staff.api("GET", "/staff/api/cases-map?" + query);
    clusters.clearLayers();
    const markers = data.points.map((p) => {
      const m = L.marker([p.lat, p.lon], {icon: pin(), title: p.number + " " + p.service + "・" + p.status});
      const box = document.createElement("div");
      const a = document.createElement("a");
      a.href = "/staff/cases/" + encodeURIComponent(p.number);
      a.textContent = p.number;
      const info = document.createElement("p");
      info.textContent = p.service + "・" + p.status;
      box.append(a, info);
      m.bindPopup(box);
      return m;
    });
    clusters.addLayers(markers); // one pass: clusters are computed once for the lot
    $("map").dataset.points = String(markers.length);
    $("map-note-points").textContent = markers.length
      ? "共 " + markers.length + " 件有定位的案件；數字圓圈是鄰近案件的群集，按一下放大。"
      : "目前的篩選沒有定位的案件。";
    if (markers.length && mode === "points") map.fitBounds(clusters.getBounds().pad(0.2), {maxZoom: 15, animate: false});
  }

  // --- density ----------------------------------------------------------------------------------

  function densityQuery() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($("density-filters"))) if (v) q.set(k, String(v));
    return q;
  }

  function classes(max) {
    // Up to five equal steps from 1 to the largest count (fewer when the counts are small).
    const k = Math.min(COLOURS.length, max);
    const out = [];
    for (let i = 1; i <= k; i++) out.push(Math.ceil((max * i) / k));
    return out.filter((v, i, a) => a.indexOf(v) === i);
  }

  function colour(n) {
    if (!n) return ZERO;
    const i = breaks.findIndex((b) => n <= b);
    const offset = COLOURS.length - breaks.length; // few classes: the darker end of the ramp
    return COLOURS[Math.max(0, i) + offset];
  }

  function renderLegend() {
    const box = legend.getContainer();
    box.replaceChildren();
    const title = document.createElement("p");
    title.className = "legend-title";
    title.textContent = "件數";
    box.append(title);
    const list = document.createElement("ul");
    const row = (fill, text) => {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = fill;
      sw.setAttribute("aria-hidden", "true");
      li.append(sw, text);
      li.dataset.colour = fill;
      list.append(li);
    };
    row(ZERO, "0");
    let low = 1;
    for (const b of breaks) {
      row(colour(b), low === b ? String(b) : low + "–" + b);
      low = b + 1;
    }
    box.append(list);
  }

  function renderTable(data) {
    const body = $("density-table").querySelector("tbody");
    body.replaceChildren();
    const row = (name, count, detail) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = name;
      const n = document.createElement("td");
      n.textContent = String(count);
      n.className = "num";
      const s = document.createElement("td");
      s.textContent = detail;
      tr.append(th, n, s);
      body.append(tr);
      return tr;
    };
    for (const d of data.districts) {
      if (d.count) row(d.district, d.count, d.services.map((x) => x.name + " " + x.count).join("、")).dataset.district = d.district;
    }
    // The districts without any in one row (their names listed), so the table stays short.
    const none = data.districts.filter((d) => !d.count).map((d) => d.district);
    if (none.length) row("其餘 " + none.length + " 區", 0, none.join("、")).id = "density-none";
    const statusName = $("d-status").selectedOptions[0].textContent;
    $("density-caption").textContent = "各行政區案件數（" + statusName + "），多的在前；地圖顏色的文字版";
    $("density-note").textContent = "共 " + data.total + " 件" +
      (data.unplaced ? "，其中 " + data.unplaced + " 件沒有行政區或位置，不在地圖上" : "") + "。";
  }

  async function loadDensity() {
    const query = densityQuery().toString(), seq = ++densitySeq;
    const data = await staff.api("GET", "/staff/api/cases-density?" + query);
    if (seq !== densitySeq) return null; // a newer choice is on its way: draw that one
    counts = {};
    for (const d of data.districts) counts[d.district] = d.count;
    breaks = classes(data.max);
    for (const f of features) {
      const n = counts[f.properties.name] || 0;
      f.layer.setStyle({fillColor: colour(n), fillOpacity: 0.85});
    }
    renderLegend();
    renderTable(data);
    placeLabels();
    $("map").dataset.densityMax = String(data.max);
    $("map").dataset.densityQuery = query; // what is drawn (tests wait on it)
    return data;
  }

  // --- modes ----------------------------------------------------------------------------------

  async function setMode(next) {
    mode = next;
    const density = mode === "density";
    $("density-panel").hidden = !density;
    $("density-wrap").hidden = !density;
    $("map-note-points").hidden = density;
    $("map").dataset.mode = mode;
    if (density) {
      map.removeLayer(clusters);
      legend.addTo(map);
      await loadDensity();
      // Where the cases are: the districts that have any (the mountains make the city tall).
      const busy = features.filter((f) => counts[f.properties.name]).map((f) => f.layer.getBounds());
      if (busy.length) map.fitBounds(busy.reduce((a, b) => a.extend(b), L.latLngBounds(busy[0].getSouthWest(),
        busy[0].getNorthEast())), {animate: false});
    } else {
      for (const f of features) f.layer.setStyle(LAND);
      legend.remove();
      clusters.addTo(map);
      if (clusters.getLayers().length) map.fitBounds(clusters.getBounds().pad(0.2), {maxZoom: 15, animate: false});
      placeLabels();
    }
  }

  function fillDensityFilters(filters) {
    const cityWide = user.role === "admin" || user.role === "operator";
    if (cityWide) {
      for (const a of cat.agencies) option($("d-agency"), a.id, a.name);
    } else {
      $("d-agency-wrap").hidden = true;
    }
    const services = () => {
      const agency = $("d-agency").value || (cityWide ? "" : user.agency);
      const keep = $("d-service").value;
      $("d-service").replaceChildren();
      option($("d-service"), "", "全部");
      for (const s of cat.services) if (!agency || s.agency === agency) option($("d-service"), s.id, s.name);
      $("d-service").value = [...$("d-service").options].some((o) => o.value === keep) ? keep : "";
    };
    option($("d-status"), "open", "未結案");
    option($("d-status"), "all", "全部狀態");
    for (const s of cat.statuses) option($("d-status"), s.id, s.name);
    if (cityWide && filters.get("agency")) $("d-agency").value = filters.get("agency");
    services();
    $("d-agency").addEventListener("change", services);
    $("density-filters").addEventListener("change", () => {
      loadDensity().catch((e) => { $("density-note").textContent = "無法載入密度：" + e.message; });
    });
    $("density-filters").addEventListener("submit", (ev) => ev.preventDefault());
  }

  async function setup(catalogue, who) {
    cat = catalogue;
    user = who;
    if (!window.L) { $("map-note").textContent = "地圖元件未載入。"; return; }
    const tiles = cat.map_tiles || "";
    // maxZoom on the map itself: clustering needs one, and without tiles no layer gives it.
    map = L.map("map", {zoomControl: true, minZoom: 8, maxZoom: 18}).setView(KAOHSIUNG, 10);
    if (tiles) {
      L.tileLayer(tiles, {maxZoom: 19}).addTo(map);
    } else {
      $("map").classList.add("no-tiles");
      $("map-note").textContent = "未設定底圖（BOT_MAP_TILES_URL）：地圖只畫出行政區界與案件。";
    }
    clusters = L.markerClusterGroup
      ? L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50,
        spiderfyOnMaxZoom: true, iconCreateFunction: clusterIcon})
      : L.featureGroup(); // the plugin missing: plain markers, still a working map
    clusters.addTo(map);
    // The legend sits on the map (bottom right) in the density view; the table below says the same.
    const legendBox = $("density-legend");
    legend = L.control({position: "bottomright"});
    legend.onAdd = () => { L.DomEvent.disableClickPropagation(legendBox); return legendBox; };
    if (!clusters.addLayers) clusters.addLayers = (ms) => ms.forEach((m) => m.addTo(clusters));
    fillDensityFilters(new URLSearchParams(location.search));
    for (const r of document.querySelectorAll("input[name='map-mode']")) {
      r.addEventListener("change", () => {
        if (r.checked) setMode(r.value).catch((e) => { $("map-note").textContent = e.message; });
      });
    }
    await loadDistricts();
  }

  async function load(query) {
    if (!map) return;
    await loadPoints(query);
    if (mode === "density") await loadDensity();
  }

  window.caseMap = {setup, load};
})();
