/* Kiosk page, part 1 of 3 (loaded first; then kiosk-checkin.js, then kiosk.js): what the
   parts share. The live state, texts in every language of the page, and the screens,
   on one object, window.kezekKiosk. */
(function () {
  'use strict';
  var K = window.kezekKiosk = {
    state: null,              // the newest state from the server (Server-Sent Events)
    languages: ['kk', 'ru'],
    screen: 'home',
    busy: false,              // a choice is on its way to the controller
    running: false,           // kiosk.js ran: the page's load watchdog waits for it
    onHome: []                // each part's own reset when the page starts over
  };
  var idleTimer = null;
  var resultTimer = null;

  function $(id) { return document.getElementById(id); }

  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  // Every language of the page, one under the other (Kazakh first).
  function stacked(texts) {
    var box = document.createDocumentFragment();
    var seen = [];
    K.languages.forEach(function (l) {
      var t = texts && texts[l];
      if (t && seen.indexOf(t) < 0) {
        seen.push(t);
        box.appendChild(node('span', 'lang ' + l, t));
      }
    });
    return box;
  }

  function fill(el, texts) {
    el.textContent = '';
    el.appendChild(stacked(texts));
  }

  function label(key, params) {
    var out = {};
    K.languages.forEach(function (l) {
      var t = (K.state.labels[l] || {})[key] || '';
      Object.keys(params || {}).forEach(function (p) {
        t = t.split('{' + p + '}').join(String(params[p]));
      });
      out[l] = t;
    });
    return out;
  }

  // -- Screens -------------------------------------------------------------------------
  function show(name) {
    ['home', 'category', 'checkin', 'sending', 'result'].forEach(function (s) {
      $(s).hidden = s !== name;
    });
    K.screen = name;
    document.body.dataset.screen = name;
    armIdle();
  }

  function home() {
    clearTimeout(resultTimer);
    K.onHome.forEach(function (reset) { reset(); });
    K.busy = false;
    show('home');
  }

  // The answer to a choice stays on screen for result_ms, then the start again.
  function showResult() {
    show('result');
    clearTimeout(resultTimer);
    resultTimer = setTimeout(home, K.state.result_ms);
  }

  // A visitor who walks away mid-way: the next one starts at the beginning.
  function armIdle() {
    clearTimeout(idleTimer);
    if (K.screen !== 'home' && K.screen !== 'sending' && K.state) {
      idleTimer = setTimeout(home, K.screen === 'result' ? K.state.result_ms + 1000 : K.state.idle_ms);
    }
  }
  document.addEventListener('pointerdown', armIdle, true);

  K.$ = $;
  K.node = node;
  K.stacked = stacked;
  K.fill = fill;
  K.label = label;
  K.show = show;
  K.home = home;
  K.showResult = showResult;
}());
