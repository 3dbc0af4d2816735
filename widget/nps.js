/*! NPS survey widget v1: plain JS, no dependencies, no cookies. Embed it with:
 * <script>
 *   window.NPS = window.NPS || function(){(NPS.q = NPS.q || []).push(arguments)};
 *   NPS('init', {key: 'wk_live_...', base: 'https://feedback.example.com'});
 *   NPS('identify', {id: 'u-1', role: 'admin', locale: 'en', email: '...'},
 *                   {id: 'acct-1', name: 'Acme', plan: 'paid'}, {identity_token: '...'});
 * </script>
 * <script async src="https://feedback.example.com/widget/v1/nps.js"></script>
 * identity_token: made by your server. NPS('reset') at logout; NPS('show') asks now;
 * NPS('preview', {...}) makes no API call. Strict CSP, previews, themes: docs/widget.md.
 */
(() => {
  const w = window, d = document, queued = w.NPS;
  if (queued && queued.v) return; // included twice
  const src = d.currentScript && d.currentScript.src;
  let cfg = { base: src ? new URL(src).origin : '' };
  let user, opts, live, busy, forced, previewed, gen = 0;

  // localStorage, or memory where storage is blocked
  const mem = {};
  const load = (k) => { try { return JSON.parse(localStorage[k] || null); } catch (e) { return mem[k]; } };
  const save = (k, v) => { try { localStorage[k] = JSON.stringify(v); } catch (e) { mem[k] = v; } };
  // a string body goes as text/plain: a CORS "simple" request, no preflight
  const post = (url, body, keepalive) =>
    fetch(url, { method: 'POST', body: JSON.stringify(body), credentials: 'omit', keepalive });
  const api = (p) => `${cfg.base}/widget/v1/${cfg.key}/${p}`;
  const newId = () => Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n + 1e9).join('');

  // Answers (with their client_id) queue in 'nps:q' and go in order: 2xx/4xx end an item;
  // network errors, 429 and 5xx retry with backoff, when back online and on the next load.
  const Q = 'nps:q';
  let sending, retry, tries = 0;
  const items = () => (load(Q) || []).filter((i) => i.t > Date.now() - 6048e5);
  const send = (p, b) => { save(Q, [...items(), { u: api(p), b, i: newId(), t: Date.now() }]); flush(); };
  async function flush() {
    const item = items()[0];
    if (sending || !item) return;
    sending = 1;
    let done;
    try { const s = (await post(item.u, item.b, true)).status; done = s < 500 && s != 429; } catch (e) { /* offline */ }
    sending = 0;
    clearTimeout(retry);
    if (!done) return (retry = setTimeout(flush, 1e3 * Math.min(60, 2 ** tries++)));
    tries = 0;
    save(Q, items().filter((i) => i.i !== item.i));
    flush();
  }
  w.addEventListener('online', () => { tries = 0; flush(); });

  // next_check_at per key and user: after a survey for any page ('*'), after a "no" for
  // its path only (URL targeting may answer another path differently)
  const memoKey = () => `nps:${cfg.key}:${user.id}`;
  function remember(at, path) {
    const memo = {};
    for (const [k, t] of Object.entries(load(memoKey()) || {}).slice(-20)) if (t > Date.now()) memo[k] = t;
    memo[path] = at;
    save(memoKey(), memo);
  }

  // an admin's preview link, once per page
  const previewToken = () => !previewed && new URLSearchParams(location.search).get('nps_preview');

  async function check(force) {
    forced = (forced || force) && !live;
    if (busy || live || !cfg.key || !user) return;
    const memo = load(memoKey()) || {}, path = location.pathname, g = gen, now = Date.now();
    const preview = previewToken(), f = forced || !!preview;
    forced = 0;
    if (!f && (memo['*'] > now || memo[path] > now)) return;
    busy = 1;
    previewed = previewed || !!preview;
    let r;
    try {
      r = await (await post(api('eligibility'), {
        user_id: user.id, account_id: user.account, traits: user.traits, url: location.href,
        identity_token: opts.identity_token, user_hash: opts.user_hash, force: !!f,
        preview_token: preview || undefined,
      })).json();
    } catch (e) { /* offline */ }
    busy = 0;
    if (g !== gen) return check(); // another user meanwhile
    if (!r || !r.next_check_at) return; // an error answer
    const at = Date.parse(r.next_check_at);
    if (!r.show) {
      remember(at, path);
      return (forced || location.pathname !== path) && check();
    }
    if (!f) remember(at, '*');
    forced = 0;
    const s = live = { token: r.display_token, link: r.promoter_link_url, ...r };
    s.timer = setTimeout(() => render(s), r.delay_seconds * 1e3);
  }

  function el(tag, attrs, parent, text) {
    const e = d.createElement(tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    parent.append(e);
    return e;
  }

  function render(s) {
    s.theme = s.theme || {};
    s.texts = { follow_up: {}, thanks: {}, ...s.texts };
    s.host = d.createElement('nps-survey');
    const root = s.root = s.host.attachShadow({ mode: 'open' });
    const css = el('link', { rel: 'stylesheet', href: cfg.base + '/widget/v1/nps.css' }, root);
    if (/^#[\da-f]{6}$/i.test(s.theme.accent) && root.adoptedStyleSheets) {
      // a constructed sheet, not a style attribute or element: no 'unsafe-inline' needed
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(`.card{--a:${s.theme.accent}}`);
      root.adoptedStyleSheets = [sheet];
    }
    // announced, not focused: focus would take what the user types in the page
    const said = el('div', { class: 'sr', 'aria-live': 'polite' }, root);
    const card = s.card = el('div', {
      class: 'card ' + (s.container ? 'inline' : s.theme.position === 'bottom-left' ? 'left' : ''),
      role: 'dialog', 'aria-labelledby': 't', tabindex: -1, lang: s.locale || '', hidden: '',
    }, root);
    s.title = el('p', { id: 't' }, card);
    s.body = el('div', {}, card);
    el('button', { class: 'x', 'aria-label': s.texts.dismiss || 'Close' }, card, '\u00d7').onclick = () => close(s);
    card.onkeydown = (e) => { if (e.key === 'Escape') close(s); };
    // in use once pressed or focused; focus returns where it came from
    card.addEventListener('pointerdown', () => (s.engaged = 1));
    card.addEventListener('focusin', (e) => {
      s.engaged = 1;
      const from = e.relatedTarget;
      if (from && !root.contains(from)) s.prev = from;
    });
    s.cid = newId(); // per display: a changed score replaces the first
    scale(s);
    // shown once styled, never as bare markup
    css.onload = css.onerror = () => {
      card.hidden = false;
      if (!s.container) said.textContent = s.texts.question || '';
    };
    (s.container || d.body).append(s.host);
  }

  // focus moves only while the card is in use, never away from a host field
  function focusIn(s, target) {
    const a = d.activeElement;
    const typing = a && a !== s.host && (a.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName));
    if (s.engaged && !typing) target.focus();
  }

  function step(s, n, title) {
    s.step = n;
    s.title.textContent = title;
    s.body.textContent = '';
  }

  function scale(s) {
    const t = s.texts, radios = s.radios = [];
    step(s, 0, t.question);
    const group = el('div', { role: 'radiogroup', 'aria-label': t.question || '', class: 's' }, s.body);
    for (let n = 0; n < 11; n++) {
      const radio = el('button', {
        role: 'radio', 'aria-checked': false, tabindex: n ? -1 : 0,
        'aria-label': (t.score_label || '{score}').replace('{score}', n),
      }, group, n);
      if (n % 10 === 0) radio.setAttribute('aria-describedby', n ? 'hi' : 'lo');
      radio.onclick = () => answer(s, n);
      radios.push(radio);
    }
    // Tab enters the group, arrows move, Space or Enter chooses
    group.onkeydown = (e) => {
      const i = radios.indexOf(e.target), k = e.key;
      const by = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: 10, ArrowUp: 10 }[k];
      const j = k === 'Home' ? 0 : k === 'End' ? 10 : by ? (i + by) % 11 : -1;
      if (j < 0) return;
      e.preventDefault();
      radios[i].tabIndex = -1;
      radios[j].tabIndex = 0;
      radios[j].focus();
    };
    const ends = el('div', { class: 'l' }, s.body);
    el('span', { id: 'lo' }, ends, t.low_label);
    el('span', { id: 'hi' }, ends, t.high_label);
  }

  // the scale stays in the follow-up: another score replaces the first, the comment stays
  function answer(s, score) {
    const t = s.texts, kind = s.kind = score > 8 ? 'promoter' : score > 6 ? 'passive' : 'detractor';
    s.radios.forEach((r, n) => {
      r.setAttribute('aria-checked', n === score);
      r.tabIndex = n === score ? 0 : -1;
    });
    if (s.score === score) return;
    s.score = score;
    if (!s.container) send('responses', { display_token: s.token, client_id: s.cid, score });
    s.title.textContent = t.follow_up[kind];
    if (s.step) return;
    s.step = 1;
    const box = el('textarea', { 'aria-labelledby': 't', placeholder: t.comment_placeholder || '', maxlength: 5000 }, s.body);
    el('button', { class: 'b' }, s.body, t.submit).onclick = () => {
      const comment = box.value.trim();
      if (comment && !s.container) send('comments', { display_token: s.token, comment });
      thanks(s);
    };
    focusIn(s, box);
  }

  // promoters: the review link; detractors: "Talk to <owner>", its click counted (no cookie)
  function thanks(s) {
    step(s, 2, s.texts.thanks[s.kind]);
    const t = s.kind === 'detractor' && s.talk_to, href = s.kind === 'promoter' ? s.link : t && t.url;
    const a = /^https?:/.test(href) && el('a', { class: 'b', href, target: '_blank', rel: 'noopener' }, s.body,
      t ? (s.texts.talk_to_label || '{name}').replace('{name}', t.name) : s.texts.promoter_link_label);
    if (a && t && !s.container) a.onclick = () => send('clicks', { display_token: s.token, link: 'talk_to' });
    focusIn(s, a || s.card);
    const later = () => (s.auto = setTimeout(() => (s.card.matches(':hover') ? later() : close(s)), 8e3));
    if (!s.container) later();
  }

  function close(s, quiet) {
    if (!s) return;
    clearTimeout(s.timer);
    clearTimeout(s.auto);
    if (s.container) { s.score = null; return scale(s); } // a preview starts over
    if (s === live) live = null;
    if (!s.host) return;
    if (!quiet && !s.step) send('dismissals', { display_token: s.token });
    const focused = s.root.activeElement;
    s.host.remove();
    if (focused && s.prev) s.prev.focus();
  }

  function reset() {
    gen++;
    user = null;
    close(live, 1);
  }

  const commands = {
    init(o) {
      cfg = { ...cfg, ...o };
      cfg.base = String(cfg.base).replace(/\/+$/, '');
      check();
    },
    // user {id, role, locale, email, ...traits}, account {id, name, plan, ...},
    // {identity_token} (or the older {user_hash})
    identify(u, a, o) {
      if (u.id == null || a.id == null) throw Error('identify needs user.id and account.id');
      if (user && user.id !== String(u.id)) reset();
      const { id, ...person } = u, { id: account, name, ...company } = a, traits = {};
      const all = { ...company, account_name: name, ...person, locale: u.locale || navigator.language };
      for (const k in all) if (all[k] != null && typeof all[k] !== 'object') traits[k] = all[k];
      user = { id: String(id), account: String(account), traits };
      opts = o || {};
      check();
    },
    reset,
    show: () => check(1),
    preview(o) {
      const c = o.container.nodeType ? o.container : d.querySelector(o.container);
      c.querySelectorAll('nps-survey').forEach((h) => h.remove());
      render({ ...o, container: c, link: o.promoter_link_url });
    },
  };
  const NPS = (w.NPS = (name, ...args) => {
    try {
      commands[name](...args);
    } catch (e) {
      console.warn('NPS', name, e);
    }
  });
  NPS.v = 1;

  // single-page apps: check again after route changes
  for (const m of ['pushState', 'replaceState']) {
    const original = history[m];
    history[m] = function () {
      setTimeout(check);
      return original.apply(this, arguments);
    };
  }
  w.addEventListener('popstate', () => setTimeout(check));

  ((queued && queued.q) || []).forEach((args) => NPS(...args));
  flush(); // answers left from an earlier page
})();
