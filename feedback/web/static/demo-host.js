/* The demo host page's widget snippet: the CSP-friendly variant of the embed snippet.
 * No inline script: this file reads the widget key and the service's address from its own
 * <script> tag, queues the commands and loads the widget asynchronously.
 *
 *   <script src="/static/demo-host.js" data-key="wk_..." data-base="https://feedback.example.com"></script>
 */
(function () {
  'use strict';
  var me = document.currentScript;
  var key = me.getAttribute('data-key');
  var base = me.getAttribute('data-base');

  window.NPS = window.NPS || function () { (NPS.q = NPS.q || []).push(arguments); };
  NPS('init', { key: key, base: base });

  // a demo visitor: a random id kept in localStorage, so a reload is the same person
  var id = null;
  try { id = localStorage.getItem('demo-visitor'); } catch (e) { /* storage blocked */ }
  if (!id) {
    var bytes = crypto.getRandomValues(new Uint8Array(6));
    id = 'demo-visitor-' + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join('');
    try { localStorage.setItem('demo-visitor', id); } catch (e) { /* storage blocked */ }
  }
  NPS('identify',
    { id: id, role: 'admin', locale: navigator.language },
    { id: 'acct-0001', name: 'Acme demo' });

  var script = document.createElement('script');
  script.async = true;
  script.src = base + '/widget/v1/nps.js';
  document.head.appendChild(script);

  // the page's buttons: ask again now (the page again as an admin's preview, the service's
  // signed token in its address: a forced survey is honoured only then), and start over as a
  // new visitor
  document.addEventListener('DOMContentLoaded', function () {
    var who = document.getElementById('visitor');
    if (who) who.textContent = id;
    var again = document.getElementById('ask-again');
    if (again) again.addEventListener('click', function () {
      var url = new URL(location.href);
      url.searchParams.set('nps_preview', me.getAttribute('data-preview'));
      location.assign(url.toString());
    });
    var fresh = document.getElementById('new-visitor');
    if (fresh) fresh.addEventListener('click', function () {
      NPS('reset');
      try {
        Object.keys(localStorage).forEach(function (k) {
          if (k === 'demo-visitor' || k.indexOf('nps:' + key + ':') === 0) localStorage.removeItem(k);
        });
      } catch (e) { /* storage blocked */ }
      location.reload();
    });
  });
})();
