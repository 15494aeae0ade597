// The month at a glance: figures from /staff/api/reports/<yyyy-mm>, charts with Chart.js
// (served from node_modules through the vendor whitelist), the same numbers in tables.
(function () {
  "use strict";
  const charts = {};
  const COLOURS = ["#0b5cad", "#a4161a", "#1d6b32", "#7a4b00", "#5b3a8c"];

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");
  const change = (v) => (v === null || v === undefined ? "—" : (v > 0 ? "+" : "") + (v * 100).toFixed(0) + "%");

  function fillTable(id, head, rows) {
    const t = document.getElementById(id);
    t.replaceChildren();
    const tr = document.createElement("tr");
    for (const h of head) { const th = el("th", h); th.scope = "col"; tr.append(th); }
    const thead = document.createElement("thead"); thead.append(tr);
    const tbody = document.createElement("tbody");
    for (const r of rows) {
      const row = document.createElement("tr");
      for (const c of r) row.append(el("td", c));
      tbody.append(row);
    }
    if (!rows.length) { const row = document.createElement("tr"); const td = el("td", "本月沒有資料。", "muted"); td.colSpan = head.length; row.append(td); tbody.append(row); }
    t.append(thead, tbody);
  }

  function draw(id, type, labels, datasets) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), {
      type,
      data: {labels, datasets: datasets.map((d, i) => ({borderColor: COLOURS[i], backgroundColor: COLOURS[i], ...d}))},
      options: {responsive: true, animation: false, plugins: {legend: {display: datasets.length > 1}},
        scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
    });
  }

  async function show(month, agency) {
    const msg = document.getElementById("report-message");
    const q = agency ? "?agency=" + encodeURIComponent(agency) : "";
    const r = await staff.api("GET", "/staff/api/reports/" + month + q);
    document.getElementById("csv").href = "/staff/api/reports/" + month + ".csv" + q;
    msg.textContent = r.month + (r.scope.agency_name ? "・" + r.scope.agency_name : "・全市") + "（與 " + r.previous_month + " 比較）";
    const totals = document.getElementById("totals");
    totals.replaceChildren();
    const facts = [["案件數", r.totals.cases + "（上月 " + r.totals.cases_previous + "，" + change(r.totals.cases_change) + "）"]];
    if (r.totals.messages !== null) facts.push(["訊息數", r.totals.messages + "（上月 " + r.totals.messages_previous + "）"]);
    if (r.clarify) facts.push(["反問率", pct(r.clarify.rate) + "（" + r.clarify.items + " / " + r.clarify.messages + " 則訊息）"]);
    facts.push(["誤派率", pct(r.misroute.rate) + "（" + r.misroute.transfers + " / " + r.misroute.cases + " 件；上月 " + pct(r.misroute.previous_rate) + "）"]);
    for (const [k, v] of facts) { totals.append(el("dt", k), el("dd", v)); }
    totals.dataset.cases = r.totals.cases;

    draw("chart-agency", "bar", r.by_agency.map((a) => a.name), [{label: "本月", data: r.by_agency.map((a) => a.count)},
      {label: "上月", data: r.by_agency.map((a) => a.previous)}]);
    fillTable("table-agency", ["機關", "本月", "上月", "變化", "重複通報"], r.by_agency.map((a) => [a.name, a.count, a.previous, change(a.change), a.repeats]));
    const CHANNEL_ZH = {phone: "1999 電話", line: "LINE", web: "網頁", rest: "REST API", open311: "Open311", line_multicast: "LINE 群發通知"};
    fillTable("table-channel", ["管道", "件數", "占比"], r.channels.map((c) => [CHANNEL_ZH[c.key] || c.key, c.count, pct(c.share)]));
    if (r.notices) {
      const sent = r.notices_sent || {};
      fillTable("table-notice", ["管道", "通知數"], [...r.notices.by_channel.map((n) => [CHANNEL_ZH[n.key] || n.key, n.count]), ["合計", r.notices.total],
        ["發出的公告（緊急）", (sent.broadcasts || 0) + "（" + (sent.emergency || 0) + "）"], ["公告送達／失敗／已封鎖", (sent.sent || 0) + "／" + (sent.failed || 0) + "／" + (sent.blocked || 0)],
        ["LINE 計費則數（呼叫次數）", (sent.line_messages || 0) + "（" + (sent.line_calls || 0) + "）"]]);
    } else {
      fillTable("table-notice", ["管道", "通知數"], [["（全市數字，機關檢視不顯示）", ""]]);
    }
    fillTable("table-repeat", ["機關", "服務", "地點", "通報次數", "案件"],
      r.repeats.map((g) => [g.agency_name, g.service_name, g.place || g.district || "—", g.reports, g.cases.join("、")]));
    draw("chart-week", "line", r.by_week.map((w) => w.week_start), [{label: "案件", data: r.by_week.map((w) => w.cases)},
      ...(r.totals.messages !== null ? [{label: "訊息", data: r.by_week.map((w) => w.messages)}] : [])]);
    fillTable("table-week", ["週（週一起）", "案件", ...(r.totals.messages !== null ? ["訊息"] : [])],
      r.by_week.map((w) => [w.week_start, w.cases, ...(r.totals.messages !== null ? [w.messages] : [])]));
    draw("chart-district", "bar", r.by_district.map((d) => d.name), [{label: "本月", data: r.by_district.map((d) => d.count)}]);
    fillTable("table-district", ["行政區", "本月", "上月", "變化"], r.by_district.map((d) => [d.name, d.count, d.previous, change(d.change)]));
    draw("chart-close", "bar", r.time_to_close.map((c) => c.name), [{label: "中位數（小時）", data: r.time_to_close.map((c) => c.median_hours)}]);
    fillTable("table-close", ["機關", "結案件數", "中位數（小時）"], r.time_to_close.map((c) => [c.name, c.closed, c.median_hours]));
    fillTable("table-service", ["服務", "機關", "本月", "上月", "變化"], r.by_service.map((s) => [s.name, s.agency, s.count, s.previous, change(s.change)]));
    const defs = document.getElementById("definitions");
    defs.replaceChildren(...Object.values(r.definitions).map((d) => el("li", d)));
  }

  async function main() {
    const user = await staff.nav("reports");
    const month = document.getElementById("month");
    const params = new URLSearchParams(location.search);
    month.value = params.get("month") || (await staff.api("GET", "/staff/api/reports/current")).month;
    const agency = document.getElementById("agency");
    if (user.role === "handler") {
      document.getElementById("agency-box").hidden = true;
    } else {
      const {services} = await staff.api("GET", "/staff/api/curation/services").catch(() => ({services: []}));
      const seen = new Set();
      for (const s of services) {
        if (seen.has(s.agency)) continue;
        seen.add(s.agency);
        const o = el("option", s.agency_name + "（" + s.agency + "）"); o.value = s.agency; agency.append(o);
      }
    }
    document.getElementById("pick").addEventListener("submit", (e) => {
      e.preventDefault();
      show(month.value, agency.value).catch((err) => { document.getElementById("report-message").textContent = "無法載入：" + err.message; });
    });
    await show(month.value, agency.value);
  }
  main().catch((e) => { document.getElementById("report-message").textContent = "無法載入：" + e.message; });
})();
