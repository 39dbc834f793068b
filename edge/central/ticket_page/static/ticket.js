// The visitor's ticket page: the state from state.json, then live from /events (SSE).
// Kazakh first, Russian, English; the choice is kept on the phone.
(function () {
  "use strict";
  var T = {
    kk: {
      title: "Электрондық кезек", your: "Сіздің талоныңыз",
      ahead: function (n) { return "Алдыңызда: " + n + "\u00a0адам"; },
      next: "Сіз келесісіз!",
      wait: function (m) { return "Күту уақыты: ~" + m + " мин"; },
      wait_unknown: "Күту уақыты әзірге белгісіз",
      called: "Сізді шақырады!",
      go: function (w) { return w + "-терезеге келіңіз"; },
      serving: "Сізге қызмет көрсетілуде",
      at: function (w) { return w + "-терезе"; },
      parked: "Талоныңыз уақытша кейінге қалдырылды",
      parked_hint: "Сізді қайта шақырады",
      done: "Қызмет көрсету аяқталды",
      no_show: "Сіз шақыруға келмедіңіз",
      no_show_hint: "Әкімшіге жүгініңіз",
      voided: "Талон жарамсыз",
      rate_q: "Қызмет көрсетуді бағалаңыз",
      thanks: "Бағаңызға рахмет!", already: "Бұл бару бағаланған",
      issued: "Берілді", called_at: "Шақырылды", ended: "Аяқталды",
      live: "Автоматты түрде жаңартылады", offline: "Байланыс жоқ, қайта қосылуда…"
    },
    ru: {
      title: "Электронная очередь", your: "Ваш талон",
      ahead: function (n) { return "Перед вами: " + n + "\u00a0чел."; },
      next: "Вы следующий!",
      wait: function (m) { return "Ожидание: ~" + m + " мин"; },
      wait_unknown: "Время ожидания пока неизвестно",
      called: "Вас вызывают!",
      go: function (w) { return "Подойдите к окну " + w; },
      serving: "Вас обслуживают",
      at: function (w) { return "Окно " + w; },
      parked: "Ваш талон временно отложен",
      parked_hint: "Вас вызовут снова",
      done: "Обслуживание завершено",
      no_show: "Вы не подошли по вызову",
      no_show_hint: "Обратитесь к администратору",
      voided: "Талон аннулирован",
      rate_q: "Оцените обслуживание",
      thanks: "Спасибо за оценку!", already: "Этот визит уже оценён",
      issued: "Выдан", called_at: "Вызван", ended: "Завершён",
      live: "Обновляется автоматически", offline: "Нет связи, переподключение…"
    },
    en: {
      title: "Electronic queue", your: "Your ticket",
      ahead: function (n) { return n + (n === 1 ? "\u00a0person" : "\u00a0people") + " ahead of you"; },
      next: "You are next!",
      wait: function (m) { return "Wait: ~" + m + " min"; },
      wait_unknown: "Wait not known yet",
      called: "You are called!",
      go: function (w) { return "Please go to window " + w; },
      serving: "You are being served",
      at: function (w) { return "Window " + w; },
      parked: "Your ticket is set aside for now",
      parked_hint: "You will be called again",
      done: "Your visit has ended",
      no_show: "You missed your call",
      no_show_hint: "Please ask at the reception",
      voided: "This ticket was withdrawn",
      rate_q: "Rate the service",
      thanks: "Thank you for your rating!", already: "This visit is rated already",
      issued: "Issued", called_at: "Called", ended: "Ended",
      live: "Updates by itself", offline: "No connection, reconnecting…"
    }
  };
  var parts = location.pathname.split("/");
  var token = parts[2] || "";
  var base = "/t/" + encodeURIComponent(token);
  var rated = new URLSearchParams(location.search).get("rated");
  var state = null;
  var lang = pickLang();
  var stream = null;

  function pickLang() {
    var saved = null;
    try { saved = localStorage.getItem("kezek.lang"); } catch (e) { /* private mode */ }
    if (saved && T[saved]) { return saved; }
    var nav = (navigator.language || "kk").slice(0, 2);
    return nav === "ru" || nav === "en" ? nav : "kk";
  }

  function $(id) { return document.getElementById(id); }
  function show(id) {
    ["loading", "ticket", "unknown"].forEach(function (m) { $(m).hidden = m !== id; });
  }

  function render() {
    var t = T[lang];
    document.documentElement.lang = lang;
    document.querySelectorAll("#langs button").forEach(function (b) {
      b.classList.toggle("on", b.dataset.lang === lang);
    });
    document.querySelectorAll("[data-text]").forEach(function (el) {
      el.textContent = t[el.dataset.text];
    });
    if (state === null) { return; }
    if (!state.known) {
      show("unknown");
      document.body.dataset.state = "unknown";
      return;
    }
    show("ticket");
    document.body.dataset.state = state.state;
    $("number").textContent = state.ticket || "";
    var names = state.service_names || {};
    $("service").textContent = names[lang] || names.ru || names.kk || state.service || "";
    var card = $("status");
    var head = "", detail = "", kind = "";
    switch (state.state) {
      case "waiting":
        head = state.ahead === 0 ? t.next : t.ahead(state.ahead);
        detail = state.wait_min === null || state.wait_min === undefined ? t.wait_unknown
          : (state.ahead === 0 ? "" : t.wait(state.wait_min));
        break;
      case "called":
        head = t.called; detail = t.go(state.window); kind = "called"; break;
      case "serving":
        head = t.serving; detail = t.at(state.window); kind = "serving"; break;
      case "parked":
        head = t.parked; detail = t.parked_hint; break;
      case "done":
        head = t.done; detail = state.ended || ""; kind = "ended"; break;
      case "no_show":
        head = t.no_show; detail = t.no_show_hint; kind = "missed"; break;
      default:
        head = t.voided; kind = "ended";
    }
    card.className = "card " + kind;
    $("headline").textContent = head;
    $("detail").textContent = detail;
    $("detail").hidden = !detail;
    $("rate").hidden = !state.can_rate;
    $("rate").action = base + "/rate";
    var thanks = state.rated ? (rated === "already" ? t.already : t.thanks) : "";
    $("rated").textContent = thanks;
    $("rated").hidden = !thanks;
    var times = [];
    if (state.issued) { times.push(t.issued + " " + state.issued); }
    if (state.called) { times.push(t.called_at + " " + state.called); }
    if (state.ended) { times.push(t.ended + " " + state.ended); }
    $("times").textContent = times.join(" · ");
    $("link-text").textContent = document.body.classList.contains("online") ? t.live : t.offline;
  }

  function setState(s) {
    state = s;
    render();
  }

  function load() {
    fetch(base + "/state.json", { cache: "no-store" }).then(function (r) {
      if (r.status === 404) { return { known: false }; }
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (s) {
      setState(s);
      if (s.known) { live(); }
    }).catch(function () { setTimeout(load, 5000); });
  }

  function live() {
    if (stream) { stream.close(); }
    stream = new EventSource(base + "/events");
    stream.addEventListener("state", function (e) {
      document.body.classList.add("online");
      var s = JSON.parse(e.data);
      setState(s);
      if (!s.known) { stream.close(); stream = null; }
    });
    stream.addEventListener("ping", function () { document.body.classList.add("online"); });
    stream.onerror = function () {
      document.body.classList.remove("online");
      render();
      // A stream the server refused (the ticket expired, or too many requests) is not
      // retried by the browser: ask again for the state, a little later.
      if (stream && stream.readyState === EventSource.CLOSED) {
        stream = null;
        setTimeout(load, 5000);
      }
    };
  }

  document.querySelectorAll("#langs button").forEach(function (b) {
    b.addEventListener("click", function () {
      lang = b.dataset.lang;
      try { localStorage.setItem("kezek.lang", lang); } catch (e) { /* private mode */ }
      render();
    });
  });
  render();
  load();
}());
