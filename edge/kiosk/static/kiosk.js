/* Kiosk page, part 3 of 3: a visitor takes a ticket or checks in. State comes by
   Server-Sent Events; a choice is one POST with the page's token; the answer is shown,
   then the start again. Uses live.js, kiosk-page.js and kiosk-checkin.js, loaded before it. */
(function () {
  'use strict';
  var K = window.kezekKiosk;
  // The page's load watchdog reloads it when this script (or live.js) never ran.
  K.running = typeof window.kezekLive === 'function';
  var $ = K.$, node = K.node, stacked = K.stacked, fill = K.fill, label = K.label;
  var show = K.show, home = K.home;
  var meta = document.querySelector('meta[name="kezek-token"]');
  var token = meta ? meta.getAttribute('content') : '';
  var keepaliveMs = 15000;
  var chosen = null;          // the service chosen, until its category is

  K.onHome.push(function () { chosen = null; });

  // -- Rendering the live state ----------------------------------------------------------
  function render(s) {
    K.state = s;
    K.languages = s.languages || K.languages;
    keepaliveMs = s.keepalive_ms || keepaliveMs;
    document.documentElement.lang = K.languages[0] || 'kk';
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
        K.languages.forEach(function (l) { texts[l] = texts[l] + '. ' + more[l]; });
      }
      fill(closed, texts);
    }
    showNotice(s.notice);
    if (K.screen === 'checkin') { K.renderEntry(); }
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
      var drawn = JSON.stringify([sv.names, sv.booking_only, sv.waiting, K.languages]);
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
    return K.state.services.filter(function (sv) { return sv.id === id; })[0];
  }

  function chooseService(id) {
    var sv = service(id);
    if (!sv || K.busy) { return; }
    // Booked visitors only, or no question to ask: the answer comes at once.
    if (sv.booking_only || K.state.categories.length === 1) {
      submit('/ticket', {service: id, category: K.state.categories[0].id});
      return;
    }
    chosen = id;
    var box = $('chosen');
    box.textContent = '';
    box.appendChild(node('span', 'prefix', sv.prefix + ' '));
    box.appendChild(stacked(sv.names));
    var list = $('categories');
    list.textContent = '';
    K.state.categories.forEach(function (c) {
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

  // -- Asking the controller and showing the answer -------------------------------------
  function submit(path, body) {
    if (K.busy) { return; }
    K.busy = true;
    show('sending');
    fetch(path, {
      method: 'POST', cache: 'no-store', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return {status: r.status, body: j}; });
    }).then(function (a) {
      K.busy = false;
      if (a.status === 403 && a.body.code === 'stale_page') {
        location.reload();           // a page from before a restart: take a new token
        return;
      }
      if (a.body.ok) { showTicket(a.body); }
      else { showRefused(a.body.texts || K.state.texts[a.body.code] || K.state.texts.error, a.body.code); }
    }).catch(function () {
      K.busy = false;
      showRefused(K.state.texts.error, 'error');
    });
  }
  K.submit = submit;

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
      K.languages.forEach(function (l) { both[l] = a[l] + (b.wait_min ? ' \u00b7 ' + w[l] : ''); });
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
    K.showResult();
  }

  // -- Wiring ------------------------------------------------------------------------
  $('r-close').addEventListener('click', home);
  Array.prototype.forEach.call(document.querySelectorAll('.back'), function (b) {
    b.addEventListener('click', home);
  });

  // -- The live state: one Server-Sent Events stream (live.js) ----------------------------
  function setLink(s) {
    document.body.classList.remove('online', 'offline', 'connecting');
    document.body.classList.add(s);
    var link = $('link');
    link.textContent = '';
    if (K.state && s !== 'online') { link.appendChild(stacked(label('offline'))); }
  }

  // The style sheet can fail to load while the scripts ran: try the whole page again.
  if (!getComputedStyle(document.documentElement).getPropertyValue('--kezek-kiosk-css')) {
    setTimeout(function () { location.reload(); }, 10000);
  }

  show('home');
  window.kezekLive({
    state: function (e) {
      var s = JSON.parse(e.data);
      if (!s.v) { return; }
      render(s);
      setLink('online');
      document.body.dataset.version = e.lastEventId;
    },
    ping: function () { if (K.state) { setLink('online'); } },
    link: setLink,
    keepaliveMs: function () { return keepaliveMs; }
  });
}());
