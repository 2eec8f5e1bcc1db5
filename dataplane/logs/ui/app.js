// FinOps request logs: the /logs page. Plain JavaScript, no dependencies, no external requests.
//
// Everything shown comes from /logs/api/* on this origin, with the admin token (kept in this
// tab's sessionStorage) as "Authorization: Bearer". Log content is attacker-controlled (it is
// whatever clients sent and models answered): it is only ever put in the page as text
// (textContent, createElement, setAttribute), never parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'finops.logs.token';
  const POLL_MS = 2000;
  const PAGE_SIZE = 50;
  const POLL_LIMIT = 200;
  const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 };
  const DEFAULT_RANGE = '24h';
  const STATUS_CLASSES = ['2xx', '4xx', '5xx', 'error'];
  const TEXT_FILTERS = ['provider', 'model', 'key', 'search'];

  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    filters: defaultFilters(),
    query: null, // URLSearchParams for the API, fixed when the list was (re)loaded
    ids: new Set(),
    lastId: 0,
    cursor: '',
    generation: 0, // bumped on every reload: answers for an older list are dropped
    pollTimer: null,
    openId: null,
    seen: { provider: new Set(), model: new Set(), key: new Set() },
  };

  // ---- small DOM helpers (text only, never HTML)

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = String(v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---- formatting

  const pad = (n, w = 2) => String(n).padStart(w, '0');

  function localStamp(ms, withDate) {
    const d = new Date(ms);
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    if (!withDate) return time;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
  }

  function shortTime(ms) {
    if (!Number.isFinite(ms) || ms <= 0) return '—';
    const d = new Date(ms);
    const now = new Date();
    const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
    return localStamp(ms, !sameDay);
  }

  function isoTime(ms) {
    if (!Number.isFinite(ms) || ms <= 0) return '';
    try {
      return new Date(ms).toISOString();
    } catch {
      return '';
    }
  }

  function fmtDuration(us) {
    if (!Number.isFinite(us) || us <= 0) return '—';
    const ms = us / 1000;
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
    return `${(ms / 60000).toFixed(1)} min`;
  }

  const intFmt = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => (Number.isFinite(n) ? intFmt.format(n) : '—');

  function fmtCost(usd) {
    if (!Number.isFinite(usd) || usd === 0) return '$0';
    if (usd >= 1) return `$${usd.toFixed(2)}`;
    if (usd >= 0.01) return `$${usd.toFixed(4)}`;
    if (usd >= 0.000001) return `$${usd.toFixed(6)}`;
    return '<$0.000001';
  }

  function statusClass(status) {
    if (status >= 200 && status < 300) return 'pill pill-ok';
    if (status === 499) return 'pill';
    if (status >= 400 && status < 500) return 'pill pill-warn';
    if (status >= 500) return 'pill pill-err';
    return 'pill';
  }

  function pill(status) {
    return el('span', { class: statusClass(status), 'data-testid': 'status-pill', text: status || '—' });
  }

  function pretty(value) {
    try {
      return JSON.stringify(value, null, 2);
    } catch {
      return String(value);
    }
  }

  // A JSON string argument (tool-call arguments) shown pretty when it parses.
  function prettyArgs(args) {
    if (typeof args !== 'string') return pretty(args);
    try {
      return pretty(JSON.parse(args));
    } catch {
      return args;
    }
  }

  // ---- filters <-> URL <-> form

  function defaultFilters() {
    return { provider: '', model: '', key: '', status: '', range: DEFAULT_RANGE, since: '', until: '', search: '' };
  }

  function filtersFromUrl() {
    const p = new URLSearchParams(window.location.search);
    const f = defaultFilters();
    for (const k of TEXT_FILTERS) f[k] = (p.get(k) || '').trim();
    const status = (p.get('status') || '').trim().toLowerCase();
    f.status = STATUS_CLASSES.includes(status) || /^[1-5][0-9][0-9]$/.test(status) ? status : '';
    f.since = p.get('since') || '';
    f.until = p.get('until') || '';
    const range = p.get('range') || '';
    if (range in RANGES || range === 'all' || range === 'custom') f.range = range;
    else if (f.since || f.until) f.range = 'custom';
    if (f.range !== 'custom') {
      f.since = '';
      f.until = '';
    }
    return f;
  }

  function urlFor(f, openId) {
    const p = new URLSearchParams();
    for (const k of ['provider', 'model', 'key']) if (f[k]) p.set(k, f[k]);
    if (f.status) p.set('status', f.status);
    if (f.range !== DEFAULT_RANGE) p.set('range', f.range);
    if (f.range === 'custom') {
      if (f.since) p.set('since', f.since);
      if (f.until) p.set('until', f.until);
    }
    if (f.search) p.set('search', f.search);
    if (openId) p.set('open', String(openId));
    const qs = p.toString();
    return window.location.pathname + (qs ? `?${qs}` : '');
  }

  function toLocalInput(iso) {
    if (!iso) return '';
    const d = /^\d+$/.test(iso) ? new Date(Number(iso)) : new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fromLocalInput(value) {
    if (!value) return '';
    const d = new Date(value); // "YYYY-MM-DDTHH:MM[:SS]" is local time
    return Number.isNaN(d.getTime()) ? null : d.toISOString();
  }

  function fillForm(f) {
    $('f-provider').value = f.provider;
    $('f-model').value = f.model;
    $('f-key').value = f.key;
    $('f-search').value = f.search;
    if (/^\d{3}$/.test(f.status)) {
      $('f-status').value = 'exact';
      $('f-status-code').value = f.status;
    } else {
      $('f-status').value = f.status;
      $('f-status-code').value = '';
    }
    $('f-range').value = f.range;
    $('f-since').value = toLocalInput(f.since);
    $('f-until').value = toLocalInput(f.until);
    syncFormVisibility();
  }

  function syncFormVisibility() {
    $('f-status-code-wrap').hidden = $('f-status').value !== 'exact';
    const custom = $('f-range').value === 'custom';
    $('f-since-wrap').hidden = !custom;
    $('f-until-wrap').hidden = !custom;
  }

  // The form's filters, or null after showing why they are not valid.
  function readForm() {
    const f = defaultFilters();
    f.provider = $('f-provider').value.trim();
    f.model = $('f-model').value.trim();
    f.key = $('f-key').value.trim();
    f.search = $('f-search').value.trim();
    const status = $('f-status').value;
    if (status === 'exact') {
      const code = $('f-status-code').value.trim();
      if (!/^[1-5][0-9][0-9]$/.test(code)) {
        showBanner('The status code must be three digits, e.g. 429.');
        $('f-status-code').focus();
        return null;
      }
      f.status = code;
    } else {
      f.status = status;
    }
    f.range = $('f-range').value;
    if (f.range === 'custom') {
      const since = fromLocalInput($('f-since').value);
      const until = fromLocalInput($('f-until').value);
      if (since === null || until === null) {
        showBanner('The custom time range is not a valid date and time.');
        return null;
      }
      if (since && until && since > until) {
        showBanner('"Until" is before "since".');
        return null;
      }
      f.since = since;
      f.until = until;
    }
    return f;
  }

  // The API parameters for a set of filters (relative ranges start from now).
  function apiQuery(f) {
    const q = new URLSearchParams();
    for (const k of TEXT_FILTERS) if (f[k]) q.set(k, f[k]);
    if (f.status) q.set('status', f.status);
    if (f.range in RANGES) {
      q.set('since', String(Date.now() - RANGES[f.range]));
    } else if (f.range === 'custom') {
      if (f.since) q.set('since', f.since);
      if (f.until) q.set('until', f.until);
    }
    return q;
  }

  // ---- the API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, params) {
    const qs = params ? params.toString() : '';
    let res;
    try {
      res = await fetch(path + (qs ? `?${qs}` : ''), {
        headers: { Authorization: `Bearer ${state.token}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
      });
    } catch (e) {
      throw new ApiError(0, 'network', `The gateway cannot be reached (${e && e.message ? e.message : e}).`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (res.ok && body && typeof body === 'object') return body;
    const err = body && typeof body.error === 'object' && body.error ? body.error : {};
    const message = typeof err.message === 'string' && err.message ? err.message : `HTTP ${res.status}`;
    throw new ApiError(res.status, typeof err.code === 'string' ? err.code : '', message);
  }

  // Handles an API failure. Returns true when it signed the user out.
  function handleError(e) {
    if (e.status === 401) {
      signOut(`Signed out: ${e.message}`);
      return true;
    }
    if (e.status === 403) {
      signOut(`This token lacks the read scope: ${e.message}`);
      return true;
    }
    setConnection(e.status !== 0 && e.status !== 503 && e.status !== 502, e.message);
    if (e.status === 503) showBanner(`The control plane did not answer: ${e.message} Retrying while Live is on.`);
    else if (e.status === 400) showBanner(`Bad filter: ${e.message}`);
    else showBanner(e.message);
    return false;
  }

  function showBanner(text) {
    const b = $('banner');
    b.textContent = text;
    b.hidden = false;
  }

  function hideBanner() {
    $('banner').hidden = true;
  }

  function setConnection(ok, title) {
    const dot = $('status-dot');
    dot.className = `status-dot ${ok ? 'ok' : 'bad'}`;
    dot.title = ok ? 'Control plane answering' : title || 'Control plane not answering';
  }

  // ---- sign-in

  function showSignIn(message) {
    $('app').hidden = true;
    $('signin').hidden = false;
    const err = $('signin-error');
    err.textContent = message || '';
    err.hidden = !message;
    const input = $('token-input');
    input.value = '';
    input.focus();
  }

  function showWho(who) {
    const w = $('who');
    clear(w);
    if (!who) return;
    w.append(el('b', { text: who.token_name || 'token' }), ` · ${who.scope || '?'}`);
  }

  async function signIn(token) {
    const button = $('sign-in');
    button.disabled = true;
    state.token = token;
    try {
      const who = await api('/logs/api/whoami');
      sessionStorage.setItem(TOKEN_KEY, token);
      $('signin').hidden = true;
      $('app').hidden = false;
      showWho(who);
      fillForm(state.filters);
      await reload();
      const open = new URLSearchParams(window.location.search).get('open');
      if (open && state.token) openDetail(open, false);
    } catch (e) {
      state.token = null;
      if (e.status === 401) showSignIn(`That token was not accepted: ${e.message}`);
      else if (e.status === 503) showSignIn(`The control plane did not answer: ${e.message}`);
      else showSignIn(e.message);
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    stopPolling();
    state.generation += 1;
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    closeDetail(false);
    clearTable();
    showWho(null);
    hideBanner();
    showSignIn(message);
  }

  // ---- the table

  function clearTable() {
    clear($('log-body'));
    state.ids.clear();
    state.cursor = '';
    state.lastId = 0;
    $('load-more').hidden = true;
    $('empty').hidden = true;
  }

  function remember(kind, value) {
    if (!value || state.seen[kind].has(value) || state.seen[kind].size >= 500) return;
    state.seen[kind].add(value);
    $(`dl-${kind}`).append(el('option', { value }));
  }

  function rowFor(e) {
    const tr = el('tr', {
      'data-testid': 'log-row',
      'data-id': e.id,
      'data-request-id': e.request_id,
      'data-model': e.model,
      'data-provider': e.provider,
      'data-status': e.status,
      tabindex: 0,
    });
    const time = el('td', { class: 'c-time mono', text: shortTime(e.ts_ms), title: isoTime(e.ts_ms) });
    const status = el('td', { class: 'c-status' }, pill(e.status));
    if (e.error_type) status.title = e.error_type;
    const model = el('td', { class: 'c-model', title: [e.provider, e.model].filter(Boolean).join(' / ') });
    // "openai/gpt-4o" already names its provider.
    if (e.provider && !String(e.model || '').startsWith(`${e.provider}/`)) model.append(el('span', { class: 'provider', text: e.provider }));
    model.append(e.model ? String(e.model) : el('span', { class: 'none', text: e.route || '—' }));
    const keyName = e.key_name || e.key_id || '';
    const key = el('td', { class: 'c-key', text: keyName || '—', title: e.key_id || '' });
    const tokens = el('td', {
      class: 'c-num',
      text: `${fmtInt(e.prompt_tokens)} / ${fmtInt(e.completion_tokens)}`,
      title: `prompt ${fmtInt(e.prompt_tokens)}, completion ${fmtInt(e.completion_tokens)}, cached ${fmtInt(e.cached_tokens)}`,
    });
    tr.append(
      time,
      status,
      model,
      key,
      el('td', { class: 'c-num', text: fmtDuration(e.latency_us) }),
      el('td', { class: 'c-num', text: e.streamed ? fmtDuration(e.ttft_us) : '—' }),
      tokens,
      el('td', { class: 'c-num', text: fmtCost(e.cost_usd), title: `${fmtInt(e.cost_nano)} nano-dollars` }),
      el('td', { class: 'c-stream' }, e.streamed ? el('span', { class: 'tag tag-stream', 'data-testid': 'streamed', text: 'SSE', title: 'streamed' }) : null),
    );
    const id = e.id;
    tr.addEventListener('click', () => openDetail(id, true));
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') openDetail(id, true);
    });
    if (String(state.openId) === String(id)) tr.classList.add('selected');
    remember('provider', e.provider);
    remember('model', e.model);
    remember('key', e.key_name);
    return tr;
  }

  function addRows(entries, where, highlight) {
    const body = $('log-body');
    for (const e of entries) {
      if (!e || state.ids.has(e.id)) continue;
      state.ids.add(e.id);
      const tr = rowFor(e);
      if (highlight) {
        tr.classList.add('row-new');
        setTimeout(() => tr.classList.remove('row-new'), 2500);
      }
      if (where === 'top') body.insertBefore(tr, body.firstChild);
      else body.append(tr);
    }
    $('empty').hidden = state.ids.size > 0;
    updateSummary();
  }

  function updateSummary() {
    const n = state.ids.size;
    $('summary').textContent = `${fmtInt(n)} request${n === 1 ? '' : 's'} shown, newest first`;
  }

  async function reload() {
    const gen = ++state.generation;
    stopPolling();
    clearTable();
    state.query = apiQuery(state.filters);
    $('summary').textContent = 'Loading…';
    try {
      const q = new URLSearchParams(state.query);
      q.set('limit', String(PAGE_SIZE));
      const r = await api('/logs/api/logs', q);
      if (gen !== state.generation) return;
      const entries = Array.isArray(r.entries) ? r.entries : [];
      addRows(entries, 'bottom', false);
      state.cursor = typeof r.next_cursor === 'string' ? r.next_cursor : '';
      const maxId = entries.reduce((m, e) => Math.max(m, Number(e.id) || 0), 0);
      state.lastId = Math.max(Number(r.last_id) || 0, maxId);
      $('load-more').hidden = !state.cursor;
      $('empty').hidden = entries.length > 0;
      setConnection(true);
      hideBanner();
    } catch (e) {
      if (gen !== state.generation) return;
      updateSummary();
      if (handleError(e)) return;
    }
    schedulePoll();
  }

  async function loadMore() {
    if (!state.cursor) return;
    const gen = state.generation;
    const button = $('load-more');
    button.disabled = true;
    try {
      const q = new URLSearchParams(state.query);
      q.set('limit', String(PAGE_SIZE));
      q.set('cursor', state.cursor);
      const r = await api('/logs/api/logs', q);
      if (gen !== state.generation) return;
      addRows(Array.isArray(r.entries) ? r.entries : [], 'bottom', false);
      state.cursor = typeof r.next_cursor === 'string' ? r.next_cursor : '';
      button.hidden = !state.cursor;
      hideBanner();
    } catch (e) {
      if (gen === state.generation) handleError(e);
    } finally {
      button.disabled = false;
    }
  }

  // ---- live updates

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function schedulePoll(delay = POLL_MS) {
    stopPolling();
    if (!state.token || !$('live').checked) return;
    state.pollTimer = setTimeout(poll, delay);
  }

  async function poll() {
    state.pollTimer = null;
    const gen = state.generation;
    if (!state.token || !$('live').checked) return;
    if (document.hidden) {
      schedulePoll();
      return;
    }
    try {
      const q = new URLSearchParams(state.query);
      q.set('after_id', String(state.lastId));
      q.set('limit', String(POLL_LIMIT));
      const r = await api('/logs/api/logs', q);
      if (gen !== state.generation) return;
      // Oldest first: each one goes on top, so the newest ends up first.
      const entries = (Array.isArray(r.entries) ? r.entries : []).slice().sort((a, b) => a.id - b.id);
      addRows(entries, 'top', true);
      const maxId = entries.reduce((m, e) => Math.max(m, Number(e.id) || 0), 0);
      state.lastId = Math.max(state.lastId, maxId);
      // A full page may have more after it; otherwise everything up to last_id has been seen.
      if (entries.length < POLL_LIMIT) state.lastId = Math.max(state.lastId, Number(r.last_id) || 0);
      setConnection(true);
      hideBanner();
    } catch (e) {
      if (gen !== state.generation) return;
      if (handleError(e)) return;
    }
    if (gen === state.generation) schedulePoll();
  }

  // ---- the detail panel

  function markSelected() {
    for (const tr of $('log-body').children) {
      tr.classList.toggle('selected', state.openId !== null && tr.getAttribute('data-id') === String(state.openId));
    }
  }

  function closeDetail(updateUrl = true) {
    state.openId = null;
    $('detail').hidden = true;
    markSelected();
    if (updateUrl) window.history.replaceState(null, '', urlFor(state.filters, null));
  }

  async function openDetail(id, updateUrl) {
    state.openId = id;
    markSelected();
    if (updateUrl) window.history.replaceState(null, '', urlFor(state.filters, id));
    const panel = $('detail');
    panel.hidden = false;
    $('d-title').textContent = 'Loading…';
    $('d-sub').textContent = '';
    for (const n of ['d-fields', 'd-request', 'd-response', 'd-req-badges', 'd-resp-badges']) clear($(n));
    try {
      const e = await api(`/logs/api/logs/${encodeURIComponent(String(id))}`);
      if (String(state.openId) !== String(id)) return;
      renderDetail(e);
    } catch (err) {
      if (String(state.openId) !== String(id)) return;
      if (err.status === 401 || err.status === 403) {
        handleError(err);
        return;
      }
      $('d-title').textContent = err.status === 404 ? 'Not found' : 'Could not load this request';
      $('d-request').append(el('p', { class: 'notice', text: err.message }));
    }
  }

  function field(dl, label, ...value) {
    dl.append(el('dt', { text: label }), el('dd', null, ...value));
  }

  function nameWithId(name, id) {
    if (!name && !id) return el('span', { class: 'none', text: '—' });
    if (!id || id === name) return name;
    return el('span', null, name || '', ' ', el('span', { class: 'muted mono', text: name ? `(${id})` : id }));
  }

  function renderDetail(e) {
    const title = $('d-title');
    clear(title);
    title.append(pill(e.status), `${e.method || ''} ${e.route || ''}`.trim());
    $('d-sub').textContent = `${e.request_id || ''} · ${localStamp(e.ts_ms, true)}`;

    const dl = $('d-fields');
    field(dl, 'Request ID', el('span', { class: 'mono', text: e.request_id || '—' }));
    field(dl, 'Time', el('span', { text: localStamp(e.ts_ms, true), title: isoTime(e.ts_ms) }));
    field(dl, 'Provider', e.provider || '—');
    field(dl, 'Model', e.model || '—');
    field(dl, 'Status', pill(e.status), e.error_type ? ` ${e.error_type}` : '');
    field(dl, 'Key', nameWithId(e.key_name, e.key_id));
    field(dl, 'Latency', fmtDuration(e.latency_us));
    field(dl, 'Team', nameWithId(e.team_name, e.team_id));
    field(dl, 'First token', e.streamed ? fmtDuration(e.ttft_us) : '— (not streamed)');
    field(dl, 'Customer', nameWithId(e.customer_name, e.customer_id));
    field(dl, 'Overhead', fmtDuration(e.overhead_us));
    field(dl, 'Node', e.node || '—');
    field(dl, 'Tokens', `${fmtInt(e.prompt_tokens)} in · ${fmtInt(e.completion_tokens)} out · ${fmtInt(e.cached_tokens)} cached`);
    field(dl, 'API', e.dialect || '—');
    field(dl, 'Cost', el('span', { text: fmtCost(e.cost_usd), title: `${fmtInt(e.cost_nano)} nano-dollars` }));
    field(dl, 'Streamed', e.streamed ? 'yes' : 'no');
    field(dl, 'Content', e.content_logged ? (e.content_truncated ? 'logged, truncated' : 'logged') : 'not logged');
    field(dl, 'Entry', el('span', { class: 'mono', text: String(e.id) }));

    for (const id of ['d-req-badges', 'd-resp-badges']) {
      if (e.content_logged && e.content_truncated)
        $(id).append(el('span', { class: 'tag tag-warn', 'data-testid': 'detail-truncated', text: 'truncated', title: 'longer than the gateway\'s --log-content-max-bytes: cut' }));
    }

    const req = $('d-request');
    const resp = $('d-response');
    if (!e.content_logged) {
      const why = 'Content not logged: content logging was off for this request (x-finops-log-content: off), its key, or the gateway.';
      req.append(el('p', { class: 'notice', 'data-testid': 'content-not-logged', text: why }));
      resp.append(el('p', { class: 'notice', text: 'Content not logged.' }));
      return;
    }
    renderRequest(req, typeof e.request_content === 'string' ? e.request_content : '');
    renderResponse(resp, typeof e.response_content === 'string' ? e.response_content : '');
  }

  // ---- the exchange: request JSON as a conversation

  function textPart(text) {
    return { kind: 'text', text: typeof text === 'string' ? text : pretty(text) };
  }

  // OpenAI and Anthropic message content: a string or an array of typed parts.
  function contentParts(content) {
    if (content === undefined || content === null) return [];
    if (typeof content === 'string') return [textPart(content)];
    if (!Array.isArray(content)) return [{ kind: 'json', value: content }];
    const out = [];
    for (const p of content) {
      if (typeof p === 'string') {
        out.push(textPart(p));
        continue;
      }
      if (!p || typeof p !== 'object') {
        out.push({ kind: 'json', value: p });
        continue;
      }
      switch (p.type) {
        case 'text':
        case 'input_text':
        case 'output_text':
          out.push(textPart(p.text ?? ''));
          break;
        case 'refusal':
          out.push(textPart(p.refusal ?? ''));
          break;
        case 'image_url': {
          const url = typeof p.image_url === 'string' ? p.image_url : p.image_url && p.image_url.url;
          out.push({ kind: 'media', label: typeof url === 'string' && url.startsWith('data:') ? 'image (inline data)' : `image ${url || ''}`.trim() });
          break;
        }
        case 'image':
          out.push({ kind: 'media', label: `image (${(p.source && (p.source.media_type || p.source.type)) || 'data'})` });
          break;
        case 'input_audio':
          out.push({ kind: 'media', label: 'audio' });
          break;
        case 'file':
        case 'document':
          out.push({ kind: 'media', label: p.type });
          break;
        case 'tool_use':
        case 'server_tool_use':
          out.push({ kind: 'call', name: p.name, id: p.id, args: p.input });
          break;
        case 'tool_result': {
          const inner = contentParts(p.content);
          out.push({ kind: 'result', id: p.tool_use_id, error: p.is_error === true, parts: inner });
          break;
        }
        case 'thinking':
          out.push({ kind: 'thinking', text: p.thinking ?? '' });
          break;
        case 'redacted_thinking':
          out.push({ kind: 'media', label: 'redacted thinking' });
          break;
        default:
          out.push({ kind: 'json', value: p });
      }
    }
    return out;
  }

  function geminiParts(parts) {
    if (!Array.isArray(parts)) return parts === undefined ? [] : [{ kind: 'json', value: parts }];
    const out = [];
    for (const p of parts) {
      if (!p || typeof p !== 'object') out.push({ kind: 'json', value: p });
      else if (typeof p.text === 'string') out.push(p.thought ? { kind: 'thinking', text: p.text } : textPart(p.text));
      else if (p.functionCall || p.function_call) {
        const c = p.functionCall || p.function_call;
        out.push({ kind: 'call', name: c.name, id: c.id, args: c.args });
      } else if (p.functionResponse || p.function_response) {
        const r = p.functionResponse || p.function_response;
        out.push({ kind: 'result', id: r.name, parts: [{ kind: 'json', value: r.response }] });
      } else if (p.inlineData || p.inline_data) {
        const d = p.inlineData || p.inline_data;
        out.push({ kind: 'media', label: `inline data (${d.mimeType || d.mime_type || '?'})` });
      } else if (p.fileData || p.file_data) {
        const d = p.fileData || p.file_data;
        out.push({ kind: 'media', label: `file ${d.fileUri || d.file_uri || ''}`.trim() });
      } else out.push({ kind: 'json', value: p });
    }
    return out;
  }

  function chatMessages(list) {
    const out = [];
    for (const m of list) {
      if (!m || typeof m !== 'object') {
        out.push({ role: 'unknown', parts: [{ kind: 'json', value: m }] });
        continue;
      }
      const role = typeof m.role === 'string' ? m.role : m.type === 'function_call_output' ? 'tool' : 'unknown';
      const parts = contentParts(m.content);
      if (Array.isArray(m.tool_calls)) {
        for (const tc of m.tool_calls) {
          const fn = (tc && tc.function) || {};
          parts.push({ kind: 'call', name: fn.name || (tc && tc.type), id: tc && tc.id, args: fn.arguments });
        }
      }
      if (m.function_call) parts.push({ kind: 'call', name: m.function_call.name, args: m.function_call.arguments });
      if (typeof m.refusal === 'string' && m.refusal) parts.push(textPart(m.refusal));
      const extra = [m.name, m.tool_call_id].filter((x) => typeof x === 'string' && x).join(' · ');
      out.push({ role, extra, parts });
    }
    return out;
  }

  // The conversation in a request body (OpenAI chat, Anthropic Messages, Gemini, completions,
  // embeddings), or null when the body has none of these shapes.
  function conversation(j) {
    if (Array.isArray(j.messages)) {
      const out = [];
      if (j.system !== undefined && j.system !== null) out.push({ role: 'system', parts: contentParts(j.system) });
      return out.concat(chatMessages(j.messages));
    }
    if (Array.isArray(j.contents)) {
      const out = [];
      const sys = j.systemInstruction || j.system_instruction;
      if (sys) out.push({ role: 'system', parts: typeof sys === 'string' ? [textPart(sys)] : geminiParts(sys.parts) });
      for (const c of j.contents) {
        if (!c || typeof c !== 'object') out.push({ role: 'unknown', parts: [{ kind: 'json', value: c }] });
        else out.push({ role: typeof c.role === 'string' ? c.role : 'user', parts: geminiParts(c.parts) });
      }
      return out;
    }
    if (j.prompt !== undefined) {
      const prompts = Array.isArray(j.prompt) ? j.prompt : [j.prompt];
      return [{ role: 'prompt', parts: prompts.map((p) => (typeof p === 'string' ? textPart(p) : { kind: 'json', value: p })) }];
    }
    if (j.input !== undefined) {
      if (Array.isArray(j.input) && j.input.length && j.input.every((x) => x && typeof x === 'object' && typeof x.role === 'string')) return chatMessages(j.input);
      const inputs = Array.isArray(j.input) ? j.input : [j.input];
      return [{ role: 'input', parts: inputs.map((p) => (typeof p === 'string' ? textPart(p) : { kind: 'json', value: p })) }];
    }
    return null;
  }

  function renderPart(p) {
    switch (p.kind) {
      case 'text':
        return el('p', { class: 'msg-text msg-part', text: p.text });
      case 'thinking': {
        const d = el('details', { class: 'msg-part' }, el('summary', { class: 'muted small', text: 'thinking' }));
        d.append(el('p', { class: 'msg-text', text: p.text }));
        return d;
      }
      case 'call':
        return el(
          'div',
          { class: 'tool-call msg-part', 'data-testid': 'tool-call' },
          el('div', { class: 'tool-call-name', text: `call ${p.name || '?'}${p.id ? ` · ${p.id}` : ''}` }),
          el('pre', { class: 'code', text: prettyArgs(p.args ?? '') }),
        );
      case 'result': {
        const box = el('div', { class: 'tool-call msg-part' }, el('div', { class: 'tool-call-name', text: `result${p.id ? ` · ${p.id}` : ''}${p.error ? ' (error)' : ''}` }));
        for (const inner of p.parts || []) box.append(renderPart(inner));
        return box;
      }
      case 'media':
        return el('div', { class: 'msg-part' }, el('span', { class: 'tag', text: p.label }));
      default:
        return el('pre', { class: 'code msg-part', text: pretty(p.value) });
    }
  }

  function renderMessage(m) {
    const role = String(m.role || 'unknown');
    const box = el('div', { class: `msg msg-${role.toLowerCase().replace(/[^a-z]/g, '')}`, 'data-testid': 'message', 'data-role': role });
    box.append(el('div', { class: 'msg-role' }, role, m.extra ? el('span', { class: 'msg-extra', text: ` · ${m.extra}` }) : null));
    if (!m.parts || m.parts.length === 0) box.append(el('p', { class: 'notice', text: '(empty)' }));
    for (const p of m.parts || []) box.append(renderPart(p));
    return box;
  }

  const PARAM_KEYS = ['model', 'stream', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'reasoning_effort', 'response_format', 'tool_choice'];

  function renderRequest(box, text) {
    if (!text) {
      box.append(el('p', { class: 'notice', text: '(empty)' }));
      return;
    }
    let j = null;
    try {
      j = JSON.parse(text);
    } catch {
      j = null;
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) {
      // Not JSON (cut by the content limit, or not a JSON body): as it was received.
      box.append(el('pre', { class: 'code', 'data-testid': 'request-raw', text }));
      return;
    }
    const conv = conversation(j);
    const params = PARAM_KEYS.filter((k) => j[k] !== undefined);
    if (params.length || Array.isArray(j.tools)) {
      const line = el('div', { class: 'params' });
      for (const k of params) {
        const v = typeof j[k] === 'object' ? JSON.stringify(j[k]) : String(j[k]);
        line.append(el('span', null, `${k}: `, el('code', { text: v.length > 80 ? `${v.slice(0, 80)}…` : v })));
      }
      if (Array.isArray(j.tools)) line.append(el('span', null, 'tools: ', el('code', { text: String(j.tools.length) })));
      box.append(line);
    }
    if (conv) for (const m of conv) box.append(renderMessage(m));
    else box.append(el('pre', { class: 'code', text: pretty(j) }));
    const raw = el('details', { class: 'raw' }, el('summary', { text: 'Raw request JSON' }), el('pre', { class: 'code', text: pretty(j) }));
    box.append(raw);
  }

  function renderResponse(box, text) {
    if (!text) {
      box.append(el('p', { class: 'notice', text: '(empty)' }));
      return;
    }
    let j;
    try {
      j = JSON.parse(text);
    } catch {
      j = undefined;
    }
    if (j && typeof j === 'object') {
      box.append(el('pre', { class: 'code', text: pretty(j) }));
      return;
    }
    box.append(renderMessage({ role: 'assistant', parts: [textPart(text)] }));
  }

  // ---- wiring

  function applyForm(ev) {
    if (ev) ev.preventDefault();
    const f = readForm();
    if (!f) return;
    hideBanner();
    state.filters = f;
    closeDetail(false);
    window.history.pushState(null, '', urlFor(f, null));
    reload();
  }

  function init() {
    $('signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = $('token-input').value.trim();
      if (!token) {
        showSignIn('Paste an admin token.');
        return;
      }
      signIn(token);
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    $('filters').addEventListener('submit', applyForm);
    $('reset').addEventListener('click', () => {
      fillForm(defaultFilters());
      applyForm(null);
    });
    $('f-status').addEventListener('change', () => {
      syncFormVisibility();
      if ($('f-status').value === 'exact') $('f-status-code').focus();
      else applyForm(null);
    });
    $('f-range').addEventListener('change', () => {
      syncFormVisibility();
      if ($('f-range').value !== 'custom') applyForm(null);
    });
    $('load-more').addEventListener('click', loadMore);
    $('live').addEventListener('change', () => {
      if ($('live').checked) schedulePoll(0);
      else stopPolling();
    });
    $('detail-close').addEventListener('click', () => closeDetail(true));
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !$('detail').hidden) closeDetail(true);
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.token && $('live').checked && state.pollTimer === null) schedulePoll(0);
    });
    window.addEventListener('popstate', () => {
      if (!state.token) return;
      state.filters = filtersFromUrl();
      fillForm(state.filters);
      const open = new URLSearchParams(window.location.search).get('open');
      reload();
      if (open) openDetail(open, false);
      else closeDetail(false);
    });

    state.filters = filtersFromUrl();
    fillForm(state.filters);
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved);
    else showSignIn('');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
