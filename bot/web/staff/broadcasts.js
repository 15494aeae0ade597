// Compose a notice (topic, districts, text, link, emergency), see its reach and LINE cost before
// sending, and the figures of those sent. Text from staff only ever via textContent/value.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const STATUS = {pending_approval: "待核准", queued: "排程中", sending: "發送中", sent: "已送出"};
  let me = null;
  let topics = {};

  function chosenDistricts() {
    return [...document.querySelectorAll("#b-district-list input:checked")].map((i) => i.value);
  }

  function audience() {
    return {topic: $("b-topic").value, districts: chosenDistricts(), emergency: $("b-emergency").checked};
  }

  async function showReach() {
    const a = audience();
    if (!a.topic) return;
    try {
      const r = await window.staff.api("POST", "/staff/api/broadcasts/preview", a);
      $("b-reach-text").textContent =
        "將送給 " + r.people + " 人（LINE " + r.line + " 人、網頁 " + r.web + " 人" +
        (r.blocked ? "；另有 " + r.blocked + " 位 LINE 訂閱者已封鎖，不會送達" : "") + "）。" +
        "LINE 費用：" + r.line_messages + " 則訊息（" + r.line_calls + " 次呼叫，每次最多 500 人）。" +
        (a.emergency ? "緊急通知須另一位同仁核准後才送出。" : "");
    } catch (e) {
      $("b-reach-text").textContent = e.message;
    }
  }

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
    return td;
  }

  async function load() {
    const data = await window.staff.api("GET", "/staff/api/broadcasts");
    const body = document.querySelector("#b-list tbody");
    body.replaceChildren();
    for (const b of data.items) {
      const tr = document.createElement("tr");
      tr.dataset.id = b.id;
      cell(tr, String(b.id));
      cell(tr, (b.emergency ? "【緊急】" : "") + (topics[b.topic] || b.topic));
      cell(tr, b.districts.length ? b.districts.join("、") : "全市");
      cell(tr, b.text);
      cell(tr, (STATUS[b.status] || b.status) + (b.held ? "（安靜時段後送出）" : ""));
      const f = b.figures;
      cell(tr, String(f.sent));
      cell(tr, String(f.failed));
      cell(tr, String(f.blocked));
      cell(tr, f.line_calls + "／" + f.line_messages);
      const act = cell(tr, "");
      if (b.status === "pending_approval") {
        if (b.created_by === me.id) {
          act.textContent = "等待另一位同仁核准";
        } else {
          const btn = document.createElement("button");
          btn.type = "button";
          btn.className = "approve";
          btn.textContent = "核准並送出";
          btn.addEventListener("click", async () => {
            btn.disabled = true;
            try {
              await window.staff.api("POST", "/staff/api/broadcasts/" + b.id + "/approve");
              $("b-msg").textContent = "已核准第 " + b.id + " 則緊急通知，發送中。";
            } catch (e) {
              $("error").textContent = e.message;
            }
            await load();
          });
          act.append(btn);
        }
      }
      body.append(tr);
    }
  }

  async function start() {
    me = await window.staff.nav("broadcasts");
    const opts = await window.staff.api("GET", "/staff/api/broadcasts/options");
    if (opts.quiet_hours) $("b-quiet").textContent = opts.quiet_hours;
    else $("b-quiet-note").textContent = "（目前未設安靜時段）會立即送出";
    const sel = $("b-topic");
    for (const t of opts.topics) {
      topics[t.id] = t.name;
      const o = document.createElement("option");
      o.value = t.id;
      o.textContent = t.name;
      sel.append(o);
    }
    const list = $("b-district-list");
    for (const d of opts.districts) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = d;
      box.name = "district";
      label.append(box, " " + d);
      list.append(label);
    }
    $("b-form").addEventListener("change", showReach);
    $("b-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("error").textContent = "";
      const body = {...audience(), text: $("b-text").value.trim(), link: $("b-link").value.trim()};
      if (!body.text) { $("error").textContent = "請輸入內容"; return; }
      $("b-send").disabled = true;
      try {
        const made = await window.staff.api("POST", "/staff/api/broadcasts", body);
        $("b-msg").textContent = made.status === "pending_approval"
          ? "第 " + made.id + " 則緊急通知已建立，等待另一位同仁核准。"
          : made.held ? "第 " + made.id + " 則通知已排程，安靜時段結束後送出。"
          : "第 " + made.id + " 則通知已送出。";
        $("b-text").value = "";
        $("b-link").value = "";
        await load();
      } catch (e) {
        $("error").textContent = e.message;
      } finally {
        $("b-send").disabled = false;
      }
    });
    await showReach();
    await load();
    document.body.dataset.ready = "1";
  }

  start().catch((e) => { $("error").textContent = e.message; });
})();
