"use strict";
// The Situational Center's screens: country, one center, visits over their standard,
// reports. State comes by server-sent events (no reload); every text in kk, ru and en.
const T = {
  kk: {title: "Ситуациялық орталық", country: "Ел", overdue: "Нормадан асқан", reports: "Есептер",
    logout: "Шығу", connecting: "қосылуда…", live: "тікелей", stale: "байланыс жоқ",
    center: "Орталық", region: "Өңір", status: "Күйі", waiting: "Күтуде", windows: "Ашық терезе",
    longest: "Ең ұзақ күту", over: "Нормадан асқан қазір", served: "Бүгін қызмет", rating: "Баға",
    alarms: "Дабылдар", online: "желіде", offline: "желіде емес", silent: "үнсіз",
    all: "барлығы", problem: "Мәселе", none: "жоқ", sort: "Сұрыптау",
    p_offline: "құрылғы желіде емес", p_silent: "үнсіз", p_alarms: "дабыл", p_overdue: "нормадан асқан",
    service: "Қызмет", operator: "Оператор", unknown: "белгісіз", window: "Терезе",
    ticket: "Талон", state: "Күйі", devices: "Құрылғылар", queue: "Қызмет бойынша кезек", windows_h: "Терезелер",
    waits: "Күту және қызмет ету (p50 / p90)", calls: "Шақыру", wait: "Күту", servicet: "Қызмет ету",
    ratings: "Бағалар", history: "Дабылдар тарихы", raised: "көтерілді", cleared: "алынды",
    stages: "Кезеңдер", elapsed: "Өткен уақыт", limit: "Норма", outcome: "Нәтиже",
    open: "ашық", done: "аяқталды", no_show: "келмеді", voided: "жойылды",
    s_waiting: "күтуде", s_called: "шақырылды", s_serving: "қызмет етілуде", s_parked: "кейінге қалды",
    overran: "асқан кезең", day: "Күн", csv: "CSV жүктеу", byhour: "Күн бойы күту (орташа, мин)",
    issued: "Берілді", noshow: "Келмеді", waitavg: "Орт. күту", serviceavg: "Орт. қызмет",
    nothing: "Нормадан асқан келушілер жоқ", w_open: "ашық", w_closed: "жабық", w_paused: "үзіліс",
    min: "мин", heard: "Соңғы хабар", accounts: "Есептік жазбалар",
    loading: "Бүгінгі күннің деректері жүктелуде: күту уақыты мен нормадан асқан келушілер жақында шығады"},
  ru: {title: "Ситуационный центр", country: "Страна", overdue: "Сверх нормы", reports: "Отчёты",
    logout: "Выйти", connecting: "подключение…", live: "в эфире", stale: "нет связи",
    center: "ЦОН", region: "Регион", status: "Состояние", waiting: "Ожидают", windows: "Окон открыто",
    longest: "Дольше всех ждёт", over: "Сверх нормы сейчас", served: "Обслужено сегодня", rating: "Оценка",
    alarms: "Тревоги", online: "в сети", offline: "не в сети", silent: "молчит",
    all: "все", problem: "Проблема", none: "нет", sort: "Сортировка",
    p_offline: "устройство не в сети", p_silent: "молчит", p_alarms: "тревога", p_overdue: "сверх нормы",
    service: "Услуга", operator: "Оператор", unknown: "неизвестно", window: "Окно",
    ticket: "Талон", state: "Состояние", devices: "Устройства", queue: "Очередь по услугам", windows_h: "Окна",
    waits: "Ожидание и обслуживание (p50 / p90)", calls: "Вызовов", wait: "Ожидание", servicet: "Обслуживание",
    ratings: "Оценки", history: "История тревог", raised: "поднята", cleared: "снята",
    stages: "Этапы", elapsed: "Прошло", limit: "Норма", outcome: "Итог",
    open: "идёт", done: "завершён", no_show: "неявка", voided: "аннулирован",
    s_waiting: "ожидание", s_called: "вызван", s_serving: "обслуживание", s_parked: "отложен",
    overran: "превысивший этап", day: "День", csv: "Скачать CSV", byhour: "Ожидание в течение дня (среднее, мин)",
    issued: "Выдано", noshow: "Неявки", waitavg: "Ср. ожидание", serviceavg: "Ср. обслуживание",
    nothing: "Визитов сверх нормы нет", w_open: "открыто", w_closed: "закрыто", w_paused: "перерыв",
    min: "мин", heard: "Последняя связь", accounts: "Учётные записи",
    loading: "Загружаются данные дня: ожидание и визиты сверх нормы появятся вскоре"},
  en: {title: "Situational Center", country: "Country", overdue: "Over standard", reports: "Reports",
    logout: "Sign out", connecting: "connecting…", live: "live", stale: "no link",
    center: "Center", region: "Region", status: "Status", waiting: "Waiting", windows: "Windows open",
    longest: "Longest wait", over: "Over standard now", served: "Served today", rating: "Rating",
    alarms: "Alarms", online: "online", offline: "offline", silent: "silent",
    all: "all", problem: "Problem", none: "none", sort: "Sort",
    p_offline: "device offline", p_silent: "silent", p_alarms: "alarm", p_overdue: "over standard",
    service: "Service", operator: "Operator", unknown: "unknown", window: "Window",
    ticket: "Ticket", state: "State", devices: "Devices", queue: "Queue per service", windows_h: "Windows",
    waits: "Waits and service times (p50 / p90)", calls: "Calls", wait: "Wait", servicet: "Service",
    ratings: "Ratings", history: "Alarm history", raised: "raised", cleared: "cleared",
    stages: "Stages", elapsed: "Elapsed", limit: "Standard", outcome: "Outcome",
    open: "open", done: "done", no_show: "no-show", voided: "voided",
    s_waiting: "waiting", s_called: "called", s_serving: "serving", s_parked: "parked",
    overran: "overran stage", day: "Day", csv: "Download CSV", byhour: "Waits through the day (average, min)",
    issued: "Issued", noshow: "No-shows", waitavg: "Avg wait", serviceavg: "Avg service",
    nothing: "No visit is over its standard", w_open: "open", w_closed: "closed", w_paused: "paused",
    min: "min", heard: "Last heard", accounts: "Accounts",
    loading: "Loading today's figures: waits and visits over their standard appear shortly"},
};
let me = {lang: "kk", csrf: ""};
// The web config's names ([services.<id>] in kk/ru/en, [sites.<id>]); else the id.
let names = {services: {}, sites: {}};
let source = null;
let last = null;
const view = {sort: "problems", region: "", problem: ""};
const t = (k) => (T[me.lang] || T.kk)[k] || k;
// A service by its name in the reader's language, from the web config, else from the
// edge's own names (`fallback`, a queue's); then the Russian name (English is optional);
// else its id.
function svc(id, fallback) {
  if (id === null || id === undefined || id === "") return id;
  const sources = [names.services[id], fallback].filter(Boolean);
  for (const lang of [me.lang, "ru"]) for (const n of sources) if (n[lang]) return n[lang];
  return id;
}
const siteName = (id) => names.sites[id] || id;
const main = document.getElementById("main");

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v; else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined)
    el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
const mins = (s) => (s === null || s === undefined) ? "—" : `${Math.floor(s / 60)} ${t("min")}`;
const dur = (s) => s === null || s === undefined ? "—" : s >= 3600
  ? `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}` : mins(s);
const clock = (ms) => ms ? new Date(ms).toLocaleTimeString(me.lang === "en" ? "en-GB" : "ru-RU",
  {hour: "2-digit", minute: "2-digit", timeZone: "Asia/Almaty"}) : "—";

function header() {
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const b of document.querySelectorAll("[data-lang]")) b.classList.toggle("on", b.dataset.lang === me.lang);
  document.documentElement.lang = me.lang;
  document.getElementById("who").textContent = `${me.name || ""} (${me.role ? t("r_" + me.role) : ""})`;
  document.getElementById("nav-accounts").hidden = me.role !== "admin";
}
function setLink(ok) {
  const el = document.getElementById("link");
  el.textContent = t(ok ? "live" : "stale");
  el.className = "link " + (ok ? "ok" : "bad");
}
async function post(url, body) {
  return fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf},
    body: JSON.stringify(body || {})});
}
function listen(url, render) {
  if (source) source.close();
  source = new EventSource(url);
  source.addEventListener("state", (e) => { last = JSON.parse(e.data); setLink(true); render(last); });
  source.addEventListener("ping", () => setLink(true));
  source.onerror = () => { setLink(false); fetch("/api/me").then((r) => { if (r.status === 401) location.href = "/login"; }); };
}

// -- the country ---------------------------------------------------------------------
const SORTS = {
  problems: (a, b) => (b.silent - a.silent) || (b.problems.length - a.problems.length) || (b.overdue_now - a.overdue_now) || a.name.localeCompare(b.name),
  name: (a, b) => a.name.localeCompare(b.name), region: (a, b) => (a.region || "").localeCompare(b.region || "") || a.name.localeCompare(b.name),
  waiting: (a, b) => b.waiting - a.waiting, longest: (a, b) => (b.longest_wait_s || 0) - (a.longest_wait_s || 0),
  over: (a, b) => b.overdue_now - a.overdue_now, served: (a, b) => b.served - a.served,
  rating: (a, b) => (a.rating_avg ?? 9) - (b.rating_avg ?? 9),
};
function country(state) {
  const regions = [...new Set(state.sites.map((s) => s.region).filter(Boolean))].sort();
  const rows = state.sites.filter((s) => (!view.region || s.region === view.region)
    && (!view.problem || s.problems.includes(view.problem))).sort(SORTS[view.sort]);
  const pick = (key, options) => h("select", {id: `f-${key}`, onchange: (e) => { view[key] = e.target.value; country(last); }},
    options.map(([v, label]) => { const o = h("option", {value: v}, label); if (view[key] === v) o.selected = true; return o; }));
  const col = (key, label) => h("th", {class: view.sort === key ? "sorted" : "", "data-sort": key,
    onclick: () => { view.sort = key; country(last); }}, label);
  const silent = state.sites.filter((s) => s.silent).length;
  main.replaceChildren(
    state.loading ? h("p", {id: "loading", class: "loading"}, t("loading")) : "",
    h("section", {class: "tiles"},
      h("div", {class: "tile"}, h("b", {}, state.sites.length), t("center")),
      h("div", {class: "tile" + (silent ? " bad" : "")}, h("b", {id: "silent-count"}, silent), t("silent")),
      h("div", {class: "tile"}, h("b", {}, state.sites.reduce((n, s) => n + s.waiting, 0)), t("waiting")),
      h("div", {class: "tile" + (state.overdue_open ? " warn" : "")}, h("b", {}, state.sites.reduce((n, s) => n + s.overdue_now, 0)), t("over")),
      h("div", {class: "tile"}, h("b", {}, state.sites.reduce((n, s) => n + s.served, 0)), t("served"))),
    h("div", {class: "filters"},
      h("label", {}, t("region"), pick("region", [["", t("all")], ...regions.map((r) => [r, r])])),
      h("label", {}, t("problem"), pick("problem", [["", t("all")], ...["silent", "offline", "alarms", "overdue"].map((p) => [p, t("p_" + p)])]))),
    h("table", {id: "country", class: "grid"},
      h("thead", {}, h("tr", {}, col("name", t("center")), col("region", t("region")), col("problems", t("status")),
        col("waiting", t("waiting")), h("th", {}, t("windows")), col("longest", t("longest")), col("over", t("over")),
        col("served", t("served")), col("rating", t("rating")), h("th", {}, t("alarms")))),
      h("tbody", {}, rows.map((s) => h("tr", {"data-site": s.site, class: s.silent ? "silent" : s.problems.some((p) => p === "offline" || p === "alarms") ? "problem" : ""},
        h("td", {}, h("a", {href: `/center/${encodeURIComponent(s.site)}`}, s.name)),
        h("td", {}, s.region || "—"),
        h("td", {class: "status"}, s.silent ? `⚠ ${t("silent")} · ${t("heard")} ${clock(s.heard_ms)}`
          : `${t("online")} ${s.online}/${s.devices}`),
        h("td", {class: "num waiting"}, s.waiting), h("td", {class: "num"}, s.windows_open),
        h("td", {class: "num"}, mins(s.longest_wait_s)),
        h("td", {class: "num over" + (s.overdue_now ? " warn" : "")}, s.overdue_now),
        h("td", {class: "num"}, s.served), h("td", {class: "num"}, s.rating_avg ?? "—"),
        h("td", {class: "alarms"}, s.alarms.join(", ") || "—"))))));
}

// -- visits over their standard -------------------------------------------------------
function visitCard(v, withSite) {
  return h("article", {class: "visit " + (v.outcome === "open" ? "open" : "closed"), "data-ticket": v.ticket},
    h("h3", {}, `${v.ticket} · ${svc(v.origin)}${v.service !== v.origin ? " → " + svc(v.service) : ""}`,
      withSite ? h("a", {href: `/center/${encodeURIComponent(v.site)}`}, ` · ${siteName(v.site)}`) : null),
    h("p", {}, `${t("elapsed")}: ${dur(v.elapsed_s)} · ${t("limit")}: ${v.limit_min ? v.limit_min + " " + t("min") : "—"} · ${t("outcome")}: ${t(v.outcome)} · ${clock(v.issued_ms)}`),
    h("ol", {class: "stages"}, v.stages.map((s) => h("li", {class: s.over ? "over" : ""},
      h("b", {}, t("s_" + s.stage)), s.window ? ` · ${t("window")} ${s.window}` : "",
      s.operator ? ` · ${s.operator}` : "", ` · ${svc(s.service)} · ${dur(s.took_s)}`,
      s.limit_min ? ` / ${s.limit_min} ${t("min")}` : "", s.over ? ` ⚠ ${t("overran")}` : ""))));
}
function overdue(state) {
  main.replaceChildren(h("h2", {}, t("overdue")), state.loading
    ? h("p", {id: "loading", class: "loading"}, t("loading")) : state.overdue.length
    ? h("div", {id: "overdue", class: "visits"}, state.overdue.map((v) => visitCard(v, true)))
    : h("p", {id: "overdue"}, t("nothing")));
}

// -- one center -----------------------------------------------------------------------
function table(id, head, rows) {
  return h("table", {id, class: "grid small"}, h("thead", {}, h("tr", {}, head.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((x) => h("td", {}, x ?? "—"))))));
}
function figures(id, label, groups, name) {
  return table(id, [label, t("calls"), `${t("wait")} p50`, `${t("wait")} p90`, t("served"),
    `${t("servicet")} p50`, `${t("servicet")} p90`, t("ratings"), t("rating")],
    Object.entries(groups).map(([k, f]) => [k === "unknown" ? t("unknown") : name(k), f.calls, mins(f.wait_p50_s), mins(f.wait_p90_s),
      f.served, mins(f.service_p50_s), mins(f.service_p90_s), f.ratings, f.rating_avg]));
}
function chart(points) {
  const NS = "http://www.w3.org/2000/svg", W = 600, H = 180, P = 28;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("class", "chart"); svg.id = "chart";
  const max = Math.max(10, ...points.map((p) => p.avg_s / 60));
  const x = (hour) => P + (hour - 8) * (W - 2 * P) / 12, y = (m) => H - P - m * (H - 2 * P) / max;
  const add = (tag, attrs, text) => { const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); if (text !== undefined) el.textContent = String(text); svg.append(el); };
  add("line", {x1: P, y1: H - P, x2: W - P, y2: H - P, class: "axis"});
  for (let hr = 8; hr <= 20; hr += 2) add("text", {x: x(hr), y: H - 8, class: "label"}, `${hr}:00`);
  for (const m of [0, Math.round(max / 2), Math.round(max)]) {
    add("line", {x1: P, y1: y(m), x2: W - P, y2: y(m), class: "grid"});
    add("text", {x: 2, y: y(m) + 4, class: "ylabel"}, m);
  }
  if (points.length) add("polyline", {points: points.map((p) => `${x(p.hour + 0.5)},${y(p.avg_s / 60)}`).join(" "), class: "line"});
  for (const p of points) add("circle", {cx: x(p.hour + 0.5), cy: y(p.avg_s / 60), r: 4, class: "dot"});
  return svg;
}
function center(v) {
  const row = v.row || {name: v.site, region: ""};
  main.replaceChildren(
    h("h2", {id: "center-name"}, `${row.name} `, h("small", {}, row.region || "")),
    h("p", {class: "devices"}, `${t("devices")}: `, v.devices.map((d) => h("span", {class: "dev " + (d.online ? "ok" : "bad")},
      `${d.device} ${t(d.online ? "online" : "offline")}`))),
    h("div", {class: "cols"},
      h("section", {}, h("h3", {}, t("windows_h")), table("windows", [t("window"), t("state"), t("ticket"), t("service"), t("operator")],
        v.windows.map((w) => [w.label || w.number, w.state ? t("w_" + w.state) : "—", w.ticket, svc(w.service),
          w.state === "closed" ? "—" : w.operator === "unknown" ? t("unknown") : w.operator]))),
      h("section", {}, h("h3", {}, t("queue")), table("queue", [t("service"), t("waiting")],
        v.queue.map((q) => [svc(q.service, q.names), q.waiting])),
        h("h3", {}, t("alarms")), h("p", {id: "alarms-open"}, v.alarms_open.join(", ") || t("none")))),
    h("h3", {}, t("waits")), figures("per-service", t("service"), v.per_service, (k) => svc(k)),
    h("h3", {}, `${t("operator")} · ${t("ratings")}`), figures("per-operator", t("operator"), v.per_operator, (k) => k),
    h("h3", {}, t("byhour")), chart(v.waits_by_hour),
    h("p", {}, h("a", {href: `/api/center/${encodeURIComponent(v.site)}/report.csv?day=${v.day}`, download: ""}, t("csv"))),
    h("h3", {}, t("overdue")), h("div", {class: "visits", id: "center-overdue"}, v.overdue.length ? v.overdue.map((x) => visitCard(x, false)) : t("nothing")),
    h("h3", {}, t("history")), table("alarm-history", [t("day"), "", t("alarms"), ""],
      v.alarms.slice().reverse().map((a) => [clock(a.ts), t(a.raised ? "raised" : "cleared"), `${a.device}: ${a.alarm}`, a.message])));
}

// -- reports --------------------------------------------------------------------------
async function reports() {
  const today = last && last.day ? last.day : new Date().toISOString().slice(0, 10);
  const day = new URLSearchParams(location.search).get("day") || today;
  const r = await fetch(`/api/report.json?day=${day}`);
  const data = await r.json();
  main.replaceChildren(h("h2", {}, `${t("reports")} · ${data.day}`),
    h("p", {}, h("a", {id: "csv", href: `/api/report.csv?day=${data.day}`, download: ""}, t("csv"))),
    table("report", [t("center"), t("issued"), t("served"), t("noshow"), t("ratings"), t("rating"), t("waitavg"), t("serviceavg")],
      data.sites.map((s) => [h("a", {href: `/center/${encodeURIComponent(s.site)}`}, siteName(s.site)), s.issued, s.served, s.no_show,
        s.ratings, s.rating_avg, mins(s.wait_avg_s), mins(s.service_avg_s)])));
}

function route() {
  const path = location.pathname;
  if (path.startsWith("/center/")) {
    const site = decodeURIComponent(path.slice(8));
    listen(`/api/center/${encodeURIComponent(site)}/events`, center);
  } else if (path === "/overdue") listen("/api/overdue/events", overdue);
  else if (path === "/reports") { listen("/api/events", () => {}); reports(); }
  else if (path === "/accounts") { listen("/api/events", () => {}); accountsScreen(); }
  else if (path === "/password") { listen("/api/events", () => {}); passwordScreen(); }
  else listen("/api/events", country);
}
document.getElementById("langs").addEventListener("click", async (e) => {
  if (!e.target.dataset.lang) return;
  me.lang = e.target.dataset.lang; localStorage.setItem("kezek-lang", me.lang);
  header(); post("/api/lang", {lang: me.lang});
  if (["/reports", "/accounts", "/password"].includes(location.pathname) || last) route();
});
document.getElementById("logout").addEventListener("click", async () => {
  await post("/api/logout"); location.href = "/login";
});
Promise.all([fetch("/api/me"), fetch("/api/names")]).then(async ([r, n]) => {
  if (r.status === 401) { location.href = "/login"; return; }
  const m = await r.json();
  if (!m || !m.csrf) return;
  if (n.ok) names = await n.json();
  me = m; header(); route();
});
