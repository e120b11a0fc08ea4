// Push: the server relays Redis change notices as server-sent events; each one bumps the live-tick
// store, which re-renders the wall. EventSource reconnects by itself after a network error.
(function () {
  function prefix() {
    var cfg = document.getElementById('_dash-config');
    try { return JSON.parse(cfg.textContent).requests_pathname_prefix || '/'; } catch (e) { return '/'; }
  }
  function start() {
    var source = new EventSource(prefix() + 'live/changes');
    source.onmessage = function (event) {
      var clientside = window.dash_clientside;
      if (clientside && clientside.set_props && document.getElementById('wall-tiles')) {
        clientside.set_props('live-tick', {data: event.data});
      }
    };
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
