// The manager's day: figures, open alarms, windows, a chart of waits; kk / ru / en.
(function () {
  "use strict";
  var T = {
    kk: { title: "Орталықтың бүгінгі күні", day: "Күн", csv: "CSV жүктеу", windows: "Терезелер",
      alarms: "Ашық дабылдар", noAlarms: "Дабыл жоқ", chart: "Күту уақыты сағат бойынша, мин",
      services: "Қызметтер", byWindow: "Терезелер бойынша", operators: "Операторлар",
      service: "Қызмет", window: "Терезе", operator: "Оператор", served: "Қызмет көрсетілді",
      noShows: "Келмеді", transferred: "Жіберілді", waiting: "Күтуде", waitP50: "Күту p50",
      waitP90: "Күту p90", waitMax: "Күту ең көп", serviceP50: "Қызмет p50",
      serviceP90: "Қызмет p90", sla: "SLA бұзу", rating: "Баға", nobody: "(кірмеген: пульт)",
      open: "Ашу", close: "Жабу", st_open: "ашық", st_closed: "жабық", st_paused: "үзіліс",
      live: "Тікелей", reconnecting: "Қайта қосылуда…", noData: "Әзірге дерек жоқ",
      forbidden: "Бұл бет тек орталық меңгерушісіне арналған.", called: "шақырылды",
      window_busy: "Терезеде келуші бар: алдымен қызметті аяқтаңыз.",
      window_state: "Терезе қазір бұлай өзгере алмайды.", unknown_window: "Мұндай терезе жоқ.",
      window_removed: "Бұл терезе енді конфигурацияда жоқ.", csrf: "Бетті жаңартыңыз.",
      not_saved: "Сақталмады, қайталап көріңіз.", opened: "Терезе {n} ашылды",
      closed: "Терезе {n} жабылды" },
    ru: { title: "День центра", day: "День", csv: "Скачать CSV", windows: "Окна",
      alarms: "Открытые тревоги", noAlarms: "Тревог нет", chart: "Ожидание по часам, мин",
      services: "Услуги", byWindow: "По окнам", operators: "Операторы",
      service: "Услуга", window: "Окно", operator: "Оператор", served: "Обслужено",
      noShows: "Неявки", transferred: "Переведено", waiting: "Ждут", waitP50: "Ожидание p50",
      waitP90: "Ожидание p90", waitMax: "Ожидание макс.", serviceP50: "Обслуживание p50",
      serviceP90: "Обслуживание p90", sla: "Нарушения SLA", rating: "Оценка",
      nobody: "(без входа: пульт)", open: "Открыть", close: "Закрыть", st_open: "открыто",
      st_closed: "закрыто", st_paused: "перерыв", live: "В реальном времени",
      reconnecting: "Переподключение…", noData: "Пока нет данных",
      forbidden: "Эта страница только для руководителя центра.", called: "вызван",
      window_busy: "У окна посетитель: сначала завершите обслуживание.",
      window_state: "Окно сейчас не может так измениться.", unknown_window: "Такого окна нет.",
      window_removed: "Этого окна больше нет в конфигурации.", csrf: "Обновите страницу.",
      not_saved: "Не сохранено, попробуйте ещё раз.", opened: "Окно {n} открыто",
      closed: "Окно {n} закрыто" },
    en: { title: "The center's day", day: "Day", csv: "Download CSV", windows: "Windows",
      alarms: "Open alarms", noAlarms: "No alarms", chart: "Waits through the day, min",
      services: "Services", byWindow: "By window", operators: "Operators",
      service: "Service", window: "Window", operator: "Operator", served: "Served",
      noShows: "No-shows", transferred: "Transferred", waiting: "Waiting", waitP50: "Wait p50",
      waitP90: "Wait p90", waitMax: "Wait max", serviceP50: "Service p50",
      serviceP90: "Service p90", sla: "SLA breaches", rating: "Rating",
      nobody: "(nobody signed in: keypad)", open: "Open", close: "Close", st_open: "open",
      st_closed: "closed", st_paused: "paused", live: "Live", reconnecting: "Reconnecting…",
      noData: "No data yet", forbidden: "This page is for the center's manager only.",
      called: "called", window_busy: "A visitor is at the window: finish the visit first.",
      window_state: "The window cannot change that way now.", unknown_window: "No such window.",
      window_removed: "This window is no longer in the configuration.", csrf: "Reload the page.",
      not_saved: "Not saved; try again.", opened: "Window {n} opened",
      closed: "Window {n} closed" }
  };
  var lang = localStorage.getItem("kezek.lang") || "kk";
  if (!T[lang]) { lang = "kk"; }
  var day = null, timer = null, busy = false, again = false;

  function t(key) { return T[lang][key] || T.en[key] || key; }
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function dur(ms) {
    if (ms === null || ms === undefined) { return "—"; }
    var s = Math.round(ms / 1000), m = Math.floor(s / 60), ss = String(s % 60).padStart(2, "0");
    if (m < 60) { return m + ":" + ss; }
    return Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0") + ":" + ss;
  }
  function say(text, ok) {
    var m = $("message");
    m.textContent = text || "";
    m.hidden = !text;
    m.className = ok ? "ok" : "";
  }

  var COLS = [["served", "served"], ["no_shows", "noShows"], ["transferred", "transferred"],
    ["wait_p50_ms", "waitP50", dur], ["wait_p90_ms", "waitP90", dur],
    ["wait_max_ms", "waitMax", dur], ["service_p50_ms", "serviceP50", dur],
    ["service_p90_ms", "serviceP90", dur], ["sla_breaches", "sla"],
    ["rating_avg", "rating", function (v, row) { return v === null ? "—" : v.toFixed(1) + " (" + row.ratings + ")"; }]];

  function table(id, rows, head, name) {
    var tb = $(id);
    tb.textContent = "";
    var tr = el("tr");
    tr.appendChild(el("th", "", t(head)));
    COLS.forEach(function (c) { tr.appendChild(el("th", "num", t(c[1]))); });
    var thead = el("thead");
    thead.appendChild(tr);
    tb.appendChild(thead);
    var body = el("tbody");
    if (!rows.length) {
      var r0 = el("tr"), td = el("td", "empty", t("noData"));
      td.colSpan = COLS.length + 1;
      r0.appendChild(td);
      body.appendChild(r0);
    }
    rows.forEach(function (row) {
      var r = el("tr");
      r.appendChild(el("th", "", name(row.key)));
      COLS.forEach(function (c) {
        var v = row[c[0]];
        var cell = el("td", "num", c[2] ? c[2](v, row) : v);
        if (c[0] === "sla_breaches" && v > 0) { cell.className += " bad"; }
        r.appendChild(cell);
      });
      body.appendChild(r);
    });
    tb.appendChild(body);
  }

  function serviceName(id) {
    var n = (day.service_names || {})[id] || {};
    return n[lang] || n.ru || n.kk || id;
  }

  function totals() {
    var box = $("totals"), tot = day.total;
    box.textContent = "";
    [["served", tot.served], ["noShows", tot.no_shows], ["waiting", tot.waiting],
     ["waitP50", dur(tot.wait_p50_ms)], ["waitP90", dur(tot.wait_p90_ms)],
     ["sla", tot.sla_breaches],
     ["rating", tot.rating_avg === null ? "—" : tot.rating_avg.toFixed(1) + " (" + tot.ratings + ")"]
    ].forEach(function (p) {
      var d = el("div", "total" + (p[0] === "sla" && p[1] > 0 ? " bad" : ""));
      d.appendChild(el("div", "value", p[1]));
      d.appendChild(el("div", "label", t(p[0])));
      box.appendChild(d);
    });
  }

  function windowsNow() {
    var ul = $("windows-now");
    ul.textContent = "";
    day.windows_now.forEach(function (w) {
      var li = el("li", "win " + w.state);
      li.id = "win-" + w.number;
      li.appendChild(el("span", "num", w.number));
      var label = el("span", "label", w.label && w.label !== String(w.number) ? w.label : "");
      label.title = w.label || "";
      li.appendChild(label);
      li.appendChild(el("span", "state", t("st_" + w.state)));
      li.appendChild(el("span", "ticket", w.ticket ? w.ticket : ""));
      var open = w.state === "closed";
      var b = el("button", open ? "open" : "close", t(open ? "open" : "close"));
      b.type = "button";
      b.dataset.window = w.number;
      b.dataset.action = open ? "open" : "close";
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  // What an alarm is about, in the manager's language (by the start of its id); the
  // message after it is the service's own, for the IT person.
  var KINDS = [
    ["sla.wait", { kk: "Ұзақ күту", ru: "Долгое ожидание", en: "Long wait" }],
    ["sla.service", { kk: "Ұзақ қызмет", ru: "Долгое обслуживание", en: "Long service" }],
    ["device:printer", { kk: "Принтер", ru: "Принтер", en: "Printer" }],
    ["device:", { kk: "Құрылғы", ru: "Устройство", en: "Device" }],
    ["storage", { kk: "Жад картасы", ru: "Карта памяти", en: "Storage" }],
    ["sync", { kk: "Орталықпен байланыс", ru: "Связь с центром", en: "Link to central" }],
    ["clock", { kk: "Сағат", ru: "Часы", en: "Clock" }]
  ];
  function kind(id) {
    for (var i = 0; i < KINDS.length; i++) {
      if (id.indexOf(KINDS[i][0]) === 0) { return KINDS[i][1][lang] || KINDS[i][1].en; }
    }
    return id;
  }

  function alarms() {
    var ul = $("alarms");
    ul.textContent = "";
    if (!day.alarms.length) { ul.appendChild(el("li", "none", t("noAlarms"))); }
    day.alarms.forEach(function (a) {
      var li = el("li", a.severity === "critical" ? "critical" : "warning");
      li.appendChild(el("b", "", kind(a.alarm)));
      li.appendChild(el("span", "", " " + a.message));
      li.title = a.alarm;
      ul.appendChild(li);
    });
  }

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function chart() {
    var box = $("chart"), hours = day.hours;
    box.textContent = "";
    if (!hours.length) { box.appendChild(el("p", "empty", t("noData"))); return; }
    var first = Math.min(8, hours[0].hour), last = Math.max(19, hours[hours.length - 1].hour);
    var n = last - first + 1, W = 620, H = 190, L = 34, B = 22, top = 12;
    var max = 1;
    hours.forEach(function (h) { max = Math.max(max, h.wait_p90_ms / 60000); });
    max = Math.ceil(max / 10) * 10;
    var bw = (W - L - 8) / n, y = function (min) { return top + (H - top - B) * (1 - min / max); };
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img" });
    [0, max / 2, max].forEach(function (v) {
      s.appendChild(svg("line", { x1: L, x2: W - 4, y1: y(v), y2: y(v), "class": "grid" }));
      s.appendChild(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "class": "axis" }, String(v)));
    });
    var byHour = {};
    hours.forEach(function (h) { byHour[h.hour] = h; });
    var pts = [];
    for (var i = 0; i < n; i++) {
      var hr = first + i, x = L + i * bw, h = byHour[hr];
      s.appendChild(svg("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle", "class": "axis" }, String(hr)));
      if (!h) { continue; }
      var p50 = h.wait_p50_ms / 60000, p90 = h.wait_p90_ms / 60000;
      var bar = svg("rect", { x: x + bw * 0.2, y: y(p50), width: bw * 0.6,
        height: Math.max(1, y(0) - y(p50)), "class": "p50" });
      bar.appendChild(svg("title", {}, hr + ":00 — " + t("waitP50") + " " + dur(h.wait_p50_ms) +
        ", " + t("waitP90") + " " + dur(h.wait_p90_ms) + ", " + t("called") + " " + h.called));
      s.appendChild(bar);
      pts.push((x + bw / 2) + "," + y(p90));
      s.appendChild(svg("circle", { cx: x + bw / 2, cy: y(p90), r: 3, "class": "p90" }));
    }
    if (pts.length > 1) { s.appendChild(svg("polyline", { points: pts.join(" "), "class": "p90" })); }
    box.appendChild(s);
    var legend = el("div", "legend");
    legend.appendChild(el("span", "k p50", t("waitP50")));
    legend.appendChild(el("span", "k p90", t("waitP90")));
    box.appendChild(legend);
  }

  function render() {
    document.documentElement.lang = lang;
    $("title").textContent = t("title");
    $("csv").textContent = t("csv");
    ["windows", "alarms", "chart", "services", "operators"].forEach(function (k) {
      $("h-" + k).textContent = t(k);
    });
    $("h-by-window").textContent = t("byWindow");
    document.querySelectorAll("#langs button").forEach(function (b) {
      b.classList.toggle("on", b.dataset.lang === lang);
    });
    if (!day) { return; }
    var c = day.center || {};
    $("sub").textContent = (c[lang] || c.ru || c.kk || "") + " · " + t("day") + " " + day.day;
    totals();
    windowsNow();
    alarms();
    chart();
    table("t-services", day.services, "service", serviceName);
    table("t-windows", day.windows, "window", function (k) { return k; });
    table("t-operators", day.operators, "operator", function (k) { return k || t("nobody"); });
    document.body.classList.add("ready");
  }

  function load() {
    if (busy) { again = true; return; }
    busy = true;
    fetch("/manager/day.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 403) { say(t("forbidden")); throw new Error("forbidden"); }
        return r.json();
      })
      .then(function (j) { day = j; render(); })
      .catch(function () { })
      .then(function () {
        busy = false;
        if (again) { again = false; soon(); }
      });
  }
  // Many commits in a burst (a call is done + called): one fetch, not one per event.
  function soon() {
    if (timer) { return; }
    timer = setTimeout(function () { timer = null; load(); }, 1500);
  }

  function act(number, action) {
    fetch("/manager/window/" + number + "/" + action, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": (day && day.csrf) || "" }
    }).then(function (r) { return r.json(); }).then(function (j) {
      if (j.ok) {
        say(t(action === "open" ? "opened" : "closed").replace("{n}", number), true);
        load();
      }
      else { say(T[lang][j.code] || j.error || j.code); }
    }).catch(function () { say(t("not_saved")); });
  }

  function connect() {
    var es = new EventSource("/manager/events");
    es.addEventListener("state", function () { $("link").textContent = t("live"); soon(); });
    es.addEventListener("ping", function () { $("link").textContent = t("live"); });
    es.onerror = function () { $("link").textContent = t("reconnecting"); };
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b) { return; }
    if (b.dataset.lang) {
      lang = b.dataset.lang;
      localStorage.setItem("kezek.lang", lang);
      render();
    } else if (b.dataset.window) {
      act(b.dataset.window, b.dataset.action);
    }
  });
  render();
  load();
  connect();
  window.kezekManager = { reload: load };
}());
