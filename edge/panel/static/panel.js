// The operators' panel: sign-in, the window, the buttons and shortcuts, the live view (SSE).
"use strict";
(function () {
  const $ = (s) => document.querySelector(s);
  let L = {}, labels = {}, lang = localStorage.getItem("kezek.lang") || "kk";
  let csrf = "", me = null, state = null, es = null;

  const t = (k) => (L[k] || k);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  // Times on the center's clock, whatever the PC's time zone.
  const hhmm = (ms) => ms ? new Date(ms).toLocaleTimeString("ru-RU", { hour: "2-digit", minute: "2-digit", timeZone: (state && state.tz) || undefined }) : "—";

  function applyLang() {
    L = labels[lang] || labels.kk || {};
    document.documentElement.lang = lang;
    $("#lang").value = lang;
    document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
    if (state) render(state);
  }

  function say(text, detail, ok) {
    const m = $("#msg");
    m.textContent = text || "";
    if (detail) { const s = el("small", detail); m.appendChild(s); }
    m.className = ok ? "ok" : "";
    m.hidden = !text;
  }

  function show(view) {
    ["signin", "choose", "work"].forEach((v) => { $("#" + v).hidden = v !== view; });
    $("#signout").hidden = view === "signin";
    if (view !== "work" && es) { es.close(); es = null; }
  }

  async function post(path, body) {
    let r, j;
    try {
      r = await fetch(path, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body || {}) });
      j = await r.json();
    } catch (e) {
      $("#link").hidden = false;
      return { ok: false, text: t("reconnecting") };
    }
    if (r.status === 401) { signedOut(j.text); }
    return j;
  }

  function signedOut(text) {
    me = null; state = null; csrf = "";
    show("signin");
    say(text || "");
    $("#pin").value = "";
    $("#op").focus();
  }

  async function load() {
    let j;
    try { j = await (await fetch("/api/me", { credentials: "same-origin" })).json(); }
    catch (e) { setTimeout(load, 2000); return; }
    if (!j.ok) { signedOut(""); return; }
    me = j; csrf = j.csrf;
    if (j.lang && j.lang !== lang) { lang = j.lang; applyLang(); }
    if (j.operator.role === "manager") { location.href = "/manager"; return; }
    $("#where").textContent = j.operator.name + (j.window ? " · " + t("window") + " " + j.window : "");
    if (!j.window) { chooseWindow(j); return; }
    show("work");
    connect();
  }

  function chooseWindow(j) {
    show("choose");
    const box = $("#windows");
    box.textContent = "";
    j.windows.forEach((w) => {
      const b = el("button");
      b.appendChild(el("span", t("window") + " " + w.number));
      const taken = w.operator && w.operator !== j.operator.id;
      b.appendChild(el("small", w.services.join(", ") + (taken ? " · " + t("taken") + " (" + w.operator + ")" : "")));
      b.disabled = !w.allowed || taken;
      b.dataset.window = w.number;
      b.addEventListener("click", async () => {
        const r = await post("/api/window", { window: w.number });
        if (r.ok) { say(""); load(); } else if (r.code) { say(r.text, r.detail); }
      });
      box.appendChild(b);
    });
  }

  function connect() {
    if (es) es.close();
    es = new EventSource("/events");
    es.addEventListener("state", (ev) => { $("#link").hidden = true; state = JSON.parse(ev.data); render(state); });
    es.addEventListener("ping", () => { $("#link").hidden = true; });
    es.addEventListener("signed_out", () => { es.close(); es = null; signedOut(); });
    es.onerror = () => {
      $("#link").hidden = false;
      // The server restarting: EventSource retries by itself; a 401 (session gone) does not.
      if (es && es.readyState === EventSource.CLOSED) { es = null; setTimeout(load, 2000); }
    };
  }

  function svcName(id) {
    const s = (state.all_services || []).find((x) => x.id === id);
    return s ? (s.names[lang] || s.names.ru || id) : id;
  }

  function render(s) {
    if (s.error) { say(s.error); return; }
    const c = s.current;
    $("#where").textContent = (s.operator_name || "") + " · " + t("window") + " " + s.window + " · " + t("state_" + s.state);
    $("#ticket").textContent = c ? c.ticket : "—";
    const ts = $("#tstate");
    ts.textContent = c ? t(c.state) : t("no_visitor");
    ts.className = "badge " + (c ? c.state : "");
    const dl = $("#details");
    dl.textContent = "";
    const stages = $("#stages");
    stages.textContent = "";
    if (c) {
      const rows = [["service", svcName(c.service)], ["category", t("cat_" + c.category) + (c.booked ? " · " + t("booked") : "")],
        ["waited", String(c.waited_min)], ["printed", c.printed ? t("yes") : t("no")]];
      if (c.slot) rows.splice(2, 0, ["slot", c.slot]);
      rows.forEach(([k, v]) => { dl.appendChild(el("dt", t(k))); dl.appendChild(el("dd", v)); });
      c.stages.forEach((st) => {
        stages.appendChild(el("li", svcName(st.service) + (st.window ? " · " + t("window") + " " + st.window : "") +
          " · " + hhmm(st.called_ms) + (st.serving_ms ? "–" + hhmm(st.ended_ms || st.serving_ms) : "")));
      });
    }
    $("#note").hidden = !(c && c.note);
    $("#note").textContent = c && c.note ? t("note") + ": " + c.note : "";
    const at = !!c, serving = c && c.state === "serving";
    const open = s.state === "open", paused = s.state === "paused";
    const enable = { call_next: open, recall: at && !serving, start: at && !serving, done: at,
      no_show: at && !serving, transfer: at, park: at, pause: open, resume: paused, open: !open && !paused, close: !at };
    document.querySelectorAll("[data-act]").forEach((b) => { b.disabled = !enable[b.dataset.act]; });
    $("#pausebtn").hidden = paused; $("#resumebtn").hidden = !paused; $("#openbtn").hidden = open || paused;
    const counts = $("#counts");
    counts.textContent = "";
    s.services.forEach((id) => {
      const sv = (s.all_services || []).find((x) => x.id === id);
      const li = el("li"); li.appendChild(el("span", svcName(id))); li.appendChild(el("b", String(sv ? sv.waiting : 0)));
      counts.appendChild(li);
    });
    const lines = $("#lines");
    lines.textContent = "";
    Object.keys(s.lines).forEach((id) => {
      lines.appendChild(el("h3", t("waiting") + ": " + svcName(id)));
      lines.appendChild(chips(s.lines[id], "call"));
    });
    $("#parked").replaceWith(Object.assign(chips(s.parked, "call"), { id: "parked" }));
    $("#noshows").replaceWith(Object.assign(chips(s.no_shows, "return"), { id: "noshows" }));
    const f = s.figures, fig = $("#figures");
    fig.textContent = "";
    [["served", f.served], ["no_shows", f.no_shows], ["avg_service", f.avg_service_s == null ? "—" : (f.avg_service_s / 60).toFixed(1)]]
      .forEach(([k, v]) => { fig.appendChild(el("dt", t(k))); fig.appendChild(el("dd", String(v))); });
  }

  function chips(labels_, action) {
    const box = el("div", undefined, "chips");
    labels_.forEach((label) => {
      const b = el("button", label);
      b.dataset.label = label;
      b.title = t(action === "return" ? "return" : "call");
      b.addEventListener("click", () => act(action, { label }));
      box.appendChild(b);
    });
    return box;
  }

  async function act(action, extra) {
    const r = await post("/api/action", Object.assign({ action }, extra || {}));
    if (r.ok) { say(""); if (action === "close") signedOut(""); }
    else if (r.code && r.code !== "signed_out") say(r.text, r.detail);
  }

  function transfer() {
    if (!state || !state.current) return;
    const box = $("#svc");
    box.textContent = "";
    $("#tnote").value = "";
    (state.all_services || []).forEach((sv) => {
      const b = el("button");
      b.type = "button";
      b.dataset.service = sv.id;
      b.appendChild(el("span", svcName(sv.id)));
      b.appendChild(el("small", t("waiting") + ": " + sv.waiting));
      b.addEventListener("click", () => { $("#transfer-dlg").close(); act("transfer", { service: sv.id, note: $("#tnote").value }); });
      box.appendChild(b);
    });
    $("#transfer-dlg").showModal();
  }

  function pause() { $("#pause-dlg").showModal(); }

  function press(action) {
    if (action === "transfer") transfer();
    else if (action === "pause") pause();
    else act(action);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    try {
      const j = await (await fetch("/api/texts")).json();
      labels = j.labels;
      if (!labels[lang]) lang = j.default;
    } catch (e) { /* labels stay the page's own */ }
    applyLang();
    $("#lang").addEventListener("change", () => { lang = $("#lang").value; localStorage.setItem("kezek.lang", lang); applyLang(); });
    $("#signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await post("/api/sign-in", { operator: $("#op").value, pin: $("#pin").value, lang });
      $("#pin").value = "";
      if (r.ok) { csrf = r.csrf; say(""); if (r.next === "/manager") location.href = "/manager"; else load(); }
      else say(r.text, r.detail);
    });
    $("#signout").addEventListener("click", async () => { await post("/api/sign-out"); signedOut(""); });
    document.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => press(b.dataset.act)));
    $("#callform").addEventListener("submit", (ev) => { ev.preventDefault(); const v = $("#label").value.trim(); if (v) { act("call", { label: v }); $("#label").value = ""; } });
    $("#pause-dlg").querySelectorAll("button[value]").forEach((b) => b.addEventListener("click", (ev) => {
      ev.preventDefault(); $("#pause-dlg").close(); if (b.value !== "cancel") act("pause", { reason: b.value });
    }));
    $("#transfer-form").addEventListener("submit", (ev) => { ev.preventDefault(); $("#transfer-dlg").close(); });
    const keys = { n: "call_next", r: "recall", s: "start", d: "done", x: "no_show", t: "transfer", p: "park", o: "open", q: "close" };
    document.addEventListener("keydown", (ev) => {
      if ($("#work").hidden || ev.ctrlKey || ev.altKey || ev.metaKey) return;
      if (["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName) || document.querySelector("dialog[open]")) return;
      const k = ev.key.toLowerCase();
      let action = keys[k];
      if (k === "b") action = state && state.state === "paused" ? "resume" : "pause";
      if (k === "c") { ev.preventDefault(); $("#label").focus(); return; }
      if (!action) return;
      const b = document.querySelector('[data-act="' + action + '"]');
      if (b && b.disabled) return;
      ev.preventDefault();
      press(action);
    });
    load();
  });
})();
