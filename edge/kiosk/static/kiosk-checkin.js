/* Kiosk page, part 2 of 3: check-in, by IIN on a numeric pad or by the booking code.
   The IIN being typed lives only in `digits` here: never shown (masked), never stored,
   and its check digit is verified before anything is sent. */
(function () {
  'use strict';
  var K = window.kezekKiosk;
  var $ = K.$, node = K.node, stacked = K.stacked, fill = K.fill, label = K.label;
  var mode = 'iin';           // check-in entry: 'iin' or 'code'
  var digits = '';            // the IIN being typed
  var code = '';              // the booking code being typed
  var IIN_LENGTH = 12;
  var LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-';

  K.onHome.push(function () {
    digits = '';
    code = '';
  });

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
    if (K.busy) { return; }
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
          showError(K.state.texts.bad_iin);
          return;
        }
        K.submit('/iin', {iin: iin});
      }
      return;
    }
    if (k === 'erase') { code = code.slice(0, -1); }
    else if (code.length < 32) { code += k; }
    renderEntry();
  }

  function confirm() {
    if (K.busy) { return; }
    if (mode === 'iin') {
      if (digits.length > 0) {
        digits = '';
        renderEntry();
        showError(K.state.texts.iin_short);
      }
      return;
    }
    if (code.length > 0) { K.submit('/checkin', {code: code}); }
  }

  $('to-checkin').addEventListener('click', function () {
    setMode(K.state.checkin.iin ? 'iin' : 'code');
    K.show('checkin');
  });
  $('tab-iin').addEventListener('click', function () { setMode('iin'); });
  $('tab-code').addEventListener('click', function () { setMode('code'); });
  $('confirm').addEventListener('click', confirm);

  K.renderEntry = renderEntry;
}());
