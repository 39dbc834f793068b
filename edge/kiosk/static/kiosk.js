/* Kiosk page: a visitor takes a ticket or checks in. State comes by Server-Sent Events;
   a choice is one POST with the page's token; the answer is shown, then the start again.
   The IIN being typed lives only in `digits` here: never shown (masked), never stored,
   and its check digit is verified before anything is sent. */
(function () {
  'use strict';
  // The page's load watchdog reloads it when this script never ran (a failed load).
  window.kezekKiosk = true;
  var meta = document.querySelector('meta[name="kezek-token"]');
  var token = meta ? meta.getAttribute('content') : '';
  var state = null;
  var languages = ['kk', 'ru'];
  var source = null;
  var lastSeen = 0;
  var keepaliveMs = 15000;
  var retryTimer = null;
  var screen = 'home';
  var chosen = null;          // the service chosen, until its category is
  var mode = 'iin';           // check-in entry: 'iin' or 'code'
  var digits = '';            // the IIN being typed
  var code = '';              // the booking code being typed
  var idleTimer = null;
  var resultTimer = null;
  var busy = false;
  var IIN_LENGTH = 12;
  var LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-';

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
    languages.forEach(function (l) {
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
    languages.forEach(function (l) {
      var t = (state.labels[l] || {})[key] || '';
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
    screen = name;
    document.body.dataset.screen = name;
    armIdle();
  }

  function home() {
    clearTimeout(resultTimer);
    chosen = null;
    digits = '';
    code = '';
    busy = false;
    show('home');
  }

  // A visitor who walks away mid-way: the next one starts at the beginning.
  function armIdle() {
    clearTimeout(idleTimer);
    if (screen !== 'home' && screen !== 'sending' && state) {
      idleTimer = setTimeout(home, screen === 'result' ? state.result_ms + 1000 : state.idle_ms);
    }
  }
  document.addEventListener('pointerdown', armIdle, true);

  // -- Rendering the live state ----------------------------------------------------------
  function render(s) {
    state = s;
    languages = s.languages || languages;
    keepaliveMs = s.keepalive_ms || keepaliveMs;
    document.documentElement.lang = languages[0] || 'kk';
    fill($('center'), s.center);
    fill($('h-choose'), label('choose'));
    fill($('to-checkin'), label('booked'));
    $('to-checkin').hidden = !(s.checkin.iin || s.checkin.code);
    fill($('h-category'), label('category'));
    Array.prototype.forEach.call(document.querySelectorAll('.back'), function (b) {
      fill(b, label('back'));
    });
    fill($('tab-iin'), label('iin'));
    fill($('tab-code'), label('code'));
    $('tab-iin').hidden = !s.checkin.iin;
    $('tab-code').hidden = !s.checkin.code;
    fill($('confirm'), label('confirm'));
    fill($('s-wait'), label('sending'));
    fill($('r-close'), label('close'));
    renderServices(s);
    var pr = $('printer');
    pr.hidden = !s.printer || s.printer.ok || !s.printer.texts;
    if (!pr.hidden) { fill(pr, s.printer.texts); pr.dataset.code = s.printer.code || ''; }
    var closed = $('closed');
    closed.hidden = s.open;
    if (!s.open) {
      var texts = label('closed');
      if (s.opens) {
        var more = label('opens', {opens: s.opens});
        languages.forEach(function (l) { texts[l] = texts[l] + '. ' + more[l]; });
      }
      fill(closed, texts);
    }
    showNotice(s.notice);
    if (screen === 'checkin') { renderEntry(); }
  }

  // Updated in place while the ids stay the same: a count changing under a finger must
  // not swallow the tap.
  function renderServices(s) {
    var list = $('services');
    var ids = s.services.map(function (sv) { return sv.id; }).join(',');
    if (list.dataset.ids !== ids) {
      list.textContent = '';
      s.services.forEach(function (sv) {
        var li = node('li');
        var b = node('button', 'service');
        b.type = 'button';
        b.dataset.service = sv.id;
        b.appendChild(node('span', 'prefix', sv.prefix));
        b.appendChild(node('span', 'names'));
        b.appendChild(node('span', 'count'));
        b.addEventListener('click', function () { chooseService(b.dataset.service); });
        li.appendChild(b);
        list.appendChild(li);
      });
      list.dataset.ids = ids;
    }
    s.services.forEach(function (sv, i) {
      var b = list.children[i].firstChild;
      var drawn = JSON.stringify([sv.names, sv.booking_only, sv.waiting, languages]);
      if (b.dataset.drawn === drawn) { return; }
      b.dataset.drawn = drawn;
      b.classList.toggle('booking-only', !!sv.booking_only);
      var names = b.querySelector('.names');
      fill(names, sv.names);
      if (sv.booking_only) {
        var note = node('span', 'note');
        note.appendChild(stacked(label('booking_only')));
        names.appendChild(note);
      }
      fill(b.querySelector('.count'), label('waiting', {n: sv.waiting}));
    });
  }

  function showNotice(n) {
    var box = $('notice');
    if (!n) { box.hidden = true; box.textContent = ''; return; }
    box.className = n.kind === 'info' ? 'info' : 'refused';
    box.dataset.code = n.code;
    fill(box, n.texts);
    box.hidden = false;
  }

  // -- Choosing a service and a category --------------------------------------------------
  function service(id) {
    return state.services.filter(function (sv) { return sv.id === id; })[0];
  }

  function chooseService(id) {
    var sv = service(id);
    if (!sv || busy) { return; }
    // Booked visitors only, or no question to ask: the answer comes at once.
    if (sv.booking_only || state.categories.length === 1) {
      submit('/ticket', {service: id, category: state.categories[0].id});
      return;
    }
    chosen = id;
    var box = $('chosen');
    box.textContent = '';
    box.appendChild(node('span', 'prefix', sv.prefix + ' '));
    box.appendChild(stacked(sv.names));
    var list = $('categories');
    list.textContent = '';
    state.categories.forEach(function (c) {
      var li = node('li');
      var b = node('button', 'category');
      b.type = 'button';
      b.dataset.category = c.id;
      b.appendChild(stacked(c.names));
      b.addEventListener('click', function () {
        submit('/ticket', {service: chosen, category: c.id});
      });
      li.appendChild(b);
      list.appendChild(li);
    });
    show('category');
  }

  // -- Check-in: IIN on a numeric pad (masked), or the booking code ------------------------
  function iinValid(s) {
    if (!/^[0-9]{12}$/.test(s)) { return false; }
    var d = s.split('').map(Number);
    var sum = function (w) {
      var t = 0;
      for (var i = 0; i < 11; i++) { t += w[i] * d[i]; }
      return t % 11;
    };
    var check = sum([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    if (check === 10) {
      check = sum([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
      if (check === 10) { return false; }
    }
    return check === d[11];
  }

  function key(text, cls, onPress, data) {
    var b = node('button', 'key' + (cls ? ' ' + cls : ''));
    b.type = 'button';
    if (typeof text === 'string') { b.textContent = text; } else { b.appendChild(text); }
    b.dataset.key = data;
    b.addEventListener('click', onPress);
    return b;
  }

  function setMode(m) {
    mode = m;
    digits = '';
    code = '';
    hideError();
    $('tab-iin').classList.toggle('on', m === 'iin');
    $('tab-code').classList.toggle('on', m === 'code');
    fill($('h-entry'), label(m === 'iin' ? 'iin_prompt' : 'code_prompt'));
    var pad = $('pad');
    pad.textContent = '';
    pad.className = m === 'iin' ? 'digits' : 'letters';
    var erase = key(stacked(label('erase')), 'erase', function () { typed('erase'); }, 'erase');
    if (m === 'iin') {
      '123456789'.split('').forEach(function (d) {
        pad.appendChild(key(d, '', function () { typed(d); }, d));
      });
      pad.appendChild(erase);
      pad.appendChild(key('0', '', function () { typed('0'); }, '0'));
      pad.appendChild(key('C', 'clear', function () { typed('clear'); }, 'clear'));
    } else {
      LETTERS.split('').forEach(function (ch) {
        pad.appendChild(key(ch, '', function () { typed(ch); }, ch));
      });
      pad.appendChild(erase);
    }
    renderEntry();
  }

  function renderEntry() {
    var box = $('entry');
    box.textContent = '';
    if (mode === 'iin') {
      for (var i = 0; i < IIN_LENGTH; i++) {
        box.appendChild(node('span', 'dot' + (i < digits.length ? '' : ' empty'),
                             i < digits.length ? '\u25cf' : '\u25cb'));
      }
      box.dataset.count = String(digits.length);
    } else {
      box.textContent = code || '\u00a0';
    }
  }

  function showError(texts) {
    var e = $('entry-error');
    fill(e, texts);
    e.hidden = false;
  }

  function hideError() { $('entry-error').hidden = true; }

  function typed(k) {
    if (busy) { return; }
    hideError();
    if (mode === 'iin') {
      if (k === 'erase') { digits = digits.slice(0, -1); }
      else if (k === 'clear') { digits = ''; }
      else if (digits.length < IIN_LENGTH) { digits += k; }
      renderEntry();
      if (digits.length === IIN_LENGTH) {
        var iin = digits;
        digits = '';
        if (!iinValid(iin)) {
          // Refused here, before anything is sent: the visitor types it again.
          renderEntry();
          showError(state.texts.bad_iin);
          return;
        }
        submit('/iin', {iin: iin});
      }
      return;
    }
    if (k === 'erase') { code = code.slice(0, -1); }
    else if (code.length < 32) { code += k; }
    renderEntry();
  }

  function confirm() {
    if (busy) { return; }
    if (mode === 'iin') {
      if (digits.length > 0) {
        digits = '';
        renderEntry();
        showError(state.texts.iin_short);
      }
      return;
    }
    if (code.length > 0) { submit('/checkin', {code: code}); }
  }

  // -- Asking the controller and showing the answer -------------------------------------
  function submit(path, body) {
    if (busy) { return; }
    busy = true;
    show('sending');
    fetch(path, {
      method: 'POST', cache: 'no-store', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return {status: r.status, body: j}; });
    }).then(function (a) {
      busy = false;
      if (a.status === 403 && a.body.code === 'stale_page') {
        location.reload();           // a page from before a restart: take a new token
        return;
      }
      if (a.body.ok) { showTicket(a.body); }
      else { showRefused(a.body.texts || state.texts[a.body.code] || state.texts.error, a.body.code); }
    }).catch(function () {
      busy = false;
      showRefused(state.texts.error, 'error');
    });
  }

  function showTicket(b) {
    $('result-ok').hidden = false;
    $('result-refused').hidden = true;
    fill($('r-title'), label(b.checked_in ? 'checked_in' : 'your_ticket'));
    $('r-ticket').textContent = b.ticket;
    fill($('r-service'), b.service || {});
    fill($('r-printing'), label(b.printing ? 'printing' : 'no_paper'));
    var ahead = $('r-ahead');
    ahead.textContent = '';
    if (typeof b.ahead === 'number') {
      var a = label('ahead', {n: b.ahead});
      var w = label('wait', {m: b.wait_min || 0});
      var both = {};
      languages.forEach(function (l) { both[l] = a[l] + (b.wait_min ? ' \u00b7 ' + w[l] : ''); });
      ahead.appendChild(stacked(both));
    }
    if (b.late) { ahead.appendChild(stacked(label('late'))); }
    document.body.dataset.result = 'ticket';
    finish();
  }

  function showRefused(texts, code) {
    $('result-ok').hidden = true;
    $('result-refused').hidden = false;
    fill($('r-refused'), label('refused'));
    fill($('r-reason'), texts);
    $('r-reason').dataset.code = code || '';
    document.body.dataset.result = 'refused';
    finish();
  }

  function finish() {
    chosen = null;
    show('result');
    clearTimeout(resultTimer);
    resultTimer = setTimeout(home, state.result_ms);
  }

  // -- Wiring ------------------------------------------------------------------------
  $('to-checkin').addEventListener('click', function () {
    setMode(state.checkin.iin ? 'iin' : 'code');
    show('checkin');
  });
  $('tab-iin').addEventListener('click', function () { setMode('iin'); });
  $('tab-code').addEventListener('click', function () { setMode('code'); });
  $('confirm').addEventListener('click', confirm);
  $('r-close').addEventListener('click', home);
  Array.prototype.forEach.call(document.querySelectorAll('.back'), function (b) {
    b.addEventListener('click', home);
  });

  function setLink(s) {
    document.body.classList.remove('online', 'offline', 'connecting');
    document.body.classList.add(s);
    var link = $('link');
    link.textContent = '';
    if (state && s !== 'online') { link.appendChild(stacked(label('offline'))); }
  }

  function retryLater(ms) {
    if (retryTimer) { return; }
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, ms);
  }

  function connect() {
    if (source) { source.close(); }
    source = new EventSource('/events');
    source.addEventListener('state', function (e) {
      lastSeen = Date.now();
      var s = JSON.parse(e.data);
      if (!s.v) { return; }
      render(s);
      setLink('online');
      document.body.dataset.version = e.lastEventId;
    });
    source.addEventListener('ping', function () {
      lastSeen = Date.now();
      if (state) { setLink('online'); }
    });
    source.onerror = function () {
      setLink('offline');
      if (source.readyState === 2) { retryLater(3000); }
    };
  }

  setInterval(function () {
    if (lastSeen && Date.now() - lastSeen > keepaliveMs * 2.5) {
      lastSeen = Date.now();
      setLink('offline');
      connect();
    }
  }, 1000);

  if (!getComputedStyle(document.documentElement).getPropertyValue('--kezek-kiosk-css')) {
    setTimeout(function () { location.reload(); }, 10000);
  }

  show('home');
  connect();
}());
