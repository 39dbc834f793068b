/* Hall screen: renders the state pushed over Server-Sent Events (live.js, loaded before it). */
(function () {
  'use strict';
  // The page's load watchdog reloads it when this script (or live.js before it) never
  // ran (a failed load).
  window.kezekHall = typeof window.kezekLive === 'function';
  var keepaliveMs = 15000;
  var labels = {};
  var languages = ['kk', 'ru'];

  function $(id) { return document.getElementById(id); }

  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function both(key) {
    var parts = [];
    languages.forEach(function (l) {
      var t = labels[l] && labels[l][key];
      if (t && parts.indexOf(t) < 0) { parts.push(t); }
    });
    return parts.join(' / ');
  }

  function stacked(names) {
    var box = document.createDocumentFragment();
    languages.forEach(function (l) {
      if (names && names[l]) { box.appendChild(node('span', 'lang', names[l])); }
    });
    return box;
  }

  function setLink(state) {
    document.body.classList.remove('online', 'offline', 'connecting');
    document.body.classList.add(state);
    $('link').textContent = state === 'online' ? '' : both('offline');
  }

  function render(s) {
    languages = s.languages || languages;
    labels = s.labels || labels;
    keepaliveMs = s.keepalive_ms || keepaliveMs;
    document.documentElement.lang = languages[0] || 'kk';
    var center = $('center');
    center.textContent = '';
    center.appendChild(stacked(s.center));
    $('h-ticket').textContent = both('ticket');
    $('h-window').textContent = both('window');
    $('h-waiting').textContent = both('waiting');

    var list = $('calls');
    list.textContent = '';
    list.style.setProperty('--rows', String(Math.max(s.rows || 5, s.calls.length)));
    s.calls.forEach(function (c) {
      var li = node('li', 'call row' + (c.fresh ? ' fresh' : '') + (c.newest ? ' newest' : ''));
      li.dataset.ticket = c.ticket;
      li.dataset.window = String(c.window);
      var t = node('span', 'ticket', c.ticket);
      if (c.recall) { t.appendChild(node('span', 'recall', '\u21bb')); }
      li.appendChild(t);
      li.appendChild(node('span', 'arrow', '\u2192'));
      li.appendChild(node('span', 'window', c.window));
      list.appendChild(li);
    });
    var empty = $('empty');
    empty.hidden = s.calls.length > 0;
    empty.textContent = both('empty');

    $('h-windows').textContent = both('windows');
    var wl = $('windows');
    wl.textContent = '';
    (s.windows || []).forEach(function (w) {
      var li = node('li', 'win' + (w.paused ? ' paused' : ''));
      li.dataset.window = String(w.number);
      li.appendChild(node('span', 'number', w.number));
      li.appendChild(node('span', 'at', w.paused ? both('paused') : (w.ticket || '\u2014')));
      wl.appendChild(li);
    });
    $('windows-panel').hidden = !(s.windows && s.windows.length);

    var panel = $('waiting-panel');
    panel.hidden = !s.show_waiting;
    var ul = $('services');
    ul.textContent = '';
    (s.services || []).forEach(function (sv) {
      var li = node('li', 'service');
      li.dataset.service = sv.id;
      li.appendChild(node('span', 'prefix', sv.prefix));
      var names = node('span', 'names');
      names.appendChild(stacked(sv.names));
      li.appendChild(names);
      li.appendChild(node('span', 'count', sv.waiting));
      ul.appendChild(li);
    });
    document.body.dataset.day = s.day || '';
    showNotice(s.notice);
    fit();
  }

  // A visitor's refusal (or "your ticket is printing") from the kiosk: the server sends
  // it while it lasts and takes it away after, so the page only mirrors the state.
  function showNotice(n) {
    var box = $('notice');
    if (!n) {
      box.hidden = true;
      box.textContent = '';
      delete box.dataset.code;
      return;
    }
    box.className = n.kind === 'info' ? 'info' : 'refused';
    box.dataset.code = n.code;
    box.dataset.seq = String(n.seq);
    box.textContent = '';
    languages.forEach(function (l) {
      if (n.texts && n.texts[l]) { box.appendChild(node('p', 'lang', n.texts[l])); }
    });
    box.hidden = false;
  }

  // -- Fitting the side panel ------------------------------------------------------------
  // Nothing may be cut off silently: a visitor looks for their window or their service's
  // queue. The style sheet has levels (body data-wl / data-sl: smaller window tiles in more
  // columns; a smaller waiting list, then in two columns; a wider side panel): the first
  // level at which everything fits is used, so a small center keeps the level-0 look. Only
  // when even the last level does not fit are the lists shown in turns (pages), never cut.
  var WL_MAX = 3;
  var SL_MAX = 5;
  var LEVELS = [];
  for (var wl = 0; wl <= WL_MAX; wl++) {
    for (var sl = 0; sl <= SL_MAX; sl++) { LEVELS.push([wl, sl]); }
  }
  LEVELS.sort(function (a, b) {
    return (a[0] + a[1]) - (b[0] + b[1]) || Math.max(a[0], a[1]) - Math.max(b[0], b[1]);
  });
  var PAGE_MS = 8000;
  var pagers = {};

  function pager(key) {
    if (!pagers[key]) {
      var ids = key === 'windows' ? ['windows', 'windows-panel', 'p-windows']
                                  : ['services', 'waiting-panel', 'p-waiting'];
      pagers[key] = {list: $(ids[0]), panel: $(ids[1]), label: $(ids[2]), per: 0, page: 0};
    }
    return pagers[key];
  }

  function spills(el) {
    return el.scrollHeight > el.clientHeight || el.scrollWidth > el.clientWidth;
  }

  function overflows(p) {
    if (p.panel.hidden) { return false; }
    if (spills(p.panel)) { return true; }
    var items = p.list.children;
    for (var i = 0; i < items.length; i++) {
      if (!items[i].hidden && spills(items[i])) { return true; }
    }
    return false;
  }

  function setLevels(wl, sl) {
    var body = document.body;
    body.dataset.wl = String(wl);
    body.dataset.sl = String(sl);
    body.classList.toggle('wide', wl >= 2 || sl >= 3);
  }

  function showPage(p) {
    var items = p.list.children;
    var n = items.length;
    var per = p.per || n;
    var pages = Math.max(1, Math.ceil(n / per));
    p.page = p.page % pages;
    var shown = 0;
    for (var i = 0; i < n; i++) {
      items[i].hidden = Math.floor(i / per) !== p.page;
      if (!items[i].hidden) { shown++; }
    }
    // Two columns fill top to bottom, then the next column: rows for what is shown.
    p.list.style.setProperty('--srows', String(Math.max(1, Math.ceil(shown / 2))));
    p.label.textContent = pages > 1 ? (p.page + 1) + '/' + pages : '';
  }

  function paginate(p) {
    p.per = 0;
    showPage(p);
    if (!overflows(p)) { return; }
    // Start from how many are whole inside the panel now, then take fewer while it spills.
    var bottom = p.panel.getBoundingClientRect().bottom;
    var items = p.list.children;
    var per = 0;
    for (var i = 0; i < items.length; i++) {
      if (items[i].getBoundingClientRect().bottom <= bottom + 0.5) { per++; }
    }
    p.per = Math.max(1, Math.min(per, items.length - 1));
    showPage(p);
    while (p.per > 1 && overflows(p)) {
      p.per--;
      showPage(p);
    }
  }

  function fit() {
    var w = pager('windows');
    var sv = pager('services');
    [w, sv].forEach(function (p) { p.per = 0; showPage(p); });
    // Levels in order of preference: least shrinking first, then the most even.
    var fits = LEVELS.some(function (l) {
      setLevels(l[0], l[1]);
      return !overflows(w) && !overflows(sv);
    });
    fitted = sideSize();
    if (fits) { return; }
    // Even the smallest level does not fit: the bigger list is shown in turns first.
    var order = w.list.scrollHeight >= sv.list.scrollHeight ? [w, sv] : [sv, w];
    order.forEach(function (p) { if (overflows(p)) { paginate(p); } });
    fitted = sideSize();
  }

  setInterval(function () {
    ['windows', 'services'].forEach(function (key) {
      var p = pager(key);
      if (!p.per) { return; }
      p.page++;
      showPage(p);
      if (overflows(p)) { paginate(p); }
    });
  }, PAGE_MS);
  // The side panel's room changes without a new state: the screen turns or resizes, the
  // header grows when the clock first shows. Fit again then (not when fit() itself only
  // widened the panel: the size it ended with is remembered).
  var fitted = '';
  function sideSize() {
    var side = $('side');
    return side.clientWidth + 'x' + side.clientHeight;
  }
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      if (document.body.dataset.wl && sideSize() !== fitted) { fit(); }
    }).observe($('side'));
  } else {
    window.addEventListener('resize', function () { if (document.body.dataset.wl) { fit(); } });
  }

  // The center's local time from the controller's clock (sent with every ping): a TV's
  // own clock and time zone are rarely right. Until the first ping, no clock is shown.
  var clockSkewMs = null;
  var utcOffsetMin = 0;
  function showClock() {
    if (clockSkewMs === null) { return; }
    var local = new Date(Date.now() + clockSkewMs + utcOffsetMin * 60000);
    var hh = String(local.getUTCHours()).padStart(2, '0');
    var mm = String(local.getUTCMinutes()).padStart(2, '0');
    $('clock').textContent = hh + ':' + mm;
  }
  setInterval(showClock, 1000);

  // The style sheet can fail to load (a refused connection) while this script ran: try
  // the whole page again rather than show it unstyled for good.
  if (!getComputedStyle(document.documentElement).getPropertyValue('--kezek-hall-css')) {
    setTimeout(function () { location.reload(); }, 10000);
  }

  window.kezekLive({
    state: function (e) {
      setLink('online');
      render(JSON.parse(e.data));
      document.body.dataset.version = e.lastEventId;
    },
    ping: function (e) {
      setLink('online');
      var t = e.data ? JSON.parse(e.data) : {};
      if (typeof t.now_ms === 'number') {
        clockSkewMs = t.now_ms - Date.now();
        utcOffsetMin = t.utc_offset_min || 0;
        showClock();
      }
    },
    link: setLink,
    keepaliveMs: function () { return keepaliveMs; }
  });
}());
