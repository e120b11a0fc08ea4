// Push: the server relays Redis change notices as server-sent events; each one sets the shell's live-tick
// store, which the open page's callbacks listen to. EventSource reconnects by itself after a network error,
// but gives up for good on an HTTP error: a server holding as many screens as it may (503), or a session that
// expired (401). Then the stream is reopened after a pause, and after three refusals in a row the page
// reloads, so a screen never sits frozen looking live: it reconnects, or it shows the login page.
//
// Dash's renderer keeps every change of a callback input (each live tick, each interval tick) in an undo
// history that nothing reads (undo/redo is off) and that is never trimmed: a wall screen would grow by some
// 170,000 entries a day. Once a minute the history is cut to its last HISTORY_KEPT entries.
(function () {
  var HISTORY_KEPT = 50;
  setInterval(function () {
    (window.dash_stores || []).forEach(function (store) {
      var history = store.getState().history;
      if (history && history.past && history.past.length > HISTORY_KEPT) {
        history.past.splice(0, history.past.length - HISTORY_KEPT);
      }
    });
  }, 60000);
})();

(function () {
  var refusals = 0;
  function prefix() {
    var cfg = document.getElementById('_dash-config');
    try { return JSON.parse(cfg.textContent).requests_pathname_prefix || '/'; } catch (e) { return '/'; }
  }
  function start() {
    var source = new EventSource(prefix() + 'live/changes');
    source.onopen = function () { refusals = 0; };
    source.onmessage = function (event) {
      var clientside = window.dash_clientside;
      // the store renders no element of its own: the shell around it does
      if (clientside && clientside.set_props && document.getElementById('shell')) {
        clientside.set_props('live-tick', {data: event.data});
      }
    };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) return;
      refusals += 1;
      if (refusals >= 3) {
        window.location.reload();
      } else {
        setTimeout(start, 15000 + Math.random() * 15000);
      }
    };
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
