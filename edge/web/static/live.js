/* A page's live state: one Server-Sent Events stream (/events), reopened when it dies.
   Loaded before the page's own script by every live page (hall screen, kiosk page):
   kezekLive({state: fn(event), ping: fn(event), link: fn('offline'), keepaliveMs: fn()}). */
(function () {
  'use strict';
  window.kezekLive = function (on) {
    var source = null;
    var lastSeen = 0;
    var retryTimer = null;

    function retryLater(ms) {
      if (retryTimer) { return; }
      retryTimer = setTimeout(function () { retryTimer = null; connect(); }, ms);
    }

    function connect() {
      if (source) { source.close(); }
      source = new EventSource('/events');
      source.addEventListener('state', function (e) {
        lastSeen = Date.now();
        on.state(e);
      });
      source.addEventListener('ping', function (e) {
        lastSeen = Date.now();
        on.ping(e);
      });
      source.onerror = function () {
        on.link('offline');
        // The browser retries by itself after a dropped stream; after a refusal (503, a
        // proxy's error page) it gives up (CLOSED), so we retry ourselves.
        if (source.readyState === 2) { retryLater(3000); }
      };
    }

    // A stream can die silently (Wi-Fi TV, a switch reboot): no ping for a while -> reconnect.
    setInterval(function () {
      if (lastSeen && Date.now() - lastSeen > on.keepaliveMs() * 2.5) {
        lastSeen = Date.now();
        on.link('offline');
        connect();
      }
    }, 1000);

    connect();
  };
}());
