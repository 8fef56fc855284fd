// The Reflex console: a page per question on-call staff ask (what is open, what waits for
// me, why did nothing match, what did we change), over the REST API under /api/v1
// (docs/api.md). No framework and no network beyond this server. Every value from the
// server is put in the page as text (textContent), never as markup.
'use strict';

const state = { token: sessionStorage.getItem('reflex.token') || '', who: null, timer: null };

// ---- small helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'className') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function flash(message, isError) {
  const f = document.getElementById('flash');
  f.textContent = message || '';
  f.className = isError ? 'error' : '';
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const init = { method, headers: { Authorization: 'Bearer ' + state.token } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (res.status === 401) { signOut('Your token is not (or no longer) accepted.'); }
  if (!res.ok) throw new ApiError(res.status, (json && json.error) || res.statusText);
  return json;
}

const canOperate = () => state.who && (state.who.role === 'operator' || state.who.role === 'admin');
const isAdmin = () => state.who && state.who.role === 'admin';

function when(text) { return text ? text.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''; }
function shapeText(shape) {
  return Object.entries(shape || {}).map(([k, v]) => `${k}=${v === null ? '∅' : v}`).join('  ');
}
function page(title, ...children) {
  const main = document.getElementById('main');
  main.replaceChildren(el('h1', {}, title), ...children.flat().filter((c) => c !== null && c !== undefined));
  document.title = title + ' · Reflex';
}
function guarded(render) {
  return async (...args) => {
    try { await render(...args); } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      page('Error', el('p', { className: 'error' }, String(e.message || e)));
    }
  };
}
// Runs a change, says how it went, and redraws the current page.
async function change(what, fn) {
  try {
    await fn();
    flash(what + ': done');
  } catch (e) {
    flash(what + ': ' + (e.message || e), true);
  }
  route();
}

// ---- sign in -------------------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  try {
    state.who = await api('GET', '/whoami');
  } catch (e) {
    state.token = '';
    throw e;
  }
  sessionStorage.setItem('reflex.token', token);
  document.getElementById('who').textContent = `${state.who.name} (${state.who.role})`;
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = false;
}

function signOut(message) {
  state.token = '';
  state.who = null;
  sessionStorage.removeItem('reflex.token');
  if (message) sessionStorage.setItem('reflex.flash', message);
  location.reload();
}

// ---- overview ------------------------------------------------------------------------------

// Parses the Prometheus text format: [{name, labels, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

const rates = { last: null, history: [] };

async function overview() {
  const [open, approvals, rules] = await Promise.all([
    api('GET', '/escalations?state=open&limit=500'),
    api('GET', '/approvals'),
    api('GET', '/rules'),
  ]);
  let metrics = [];
  try {
    const res = await fetch('/metrics');
    if (res.ok) metrics = parseMetrics(await res.text());
  } catch (e) { metrics = []; }
  const decisions = {};
  let lag = 0;
  for (const m of metrics) {
    if (m.name === 'reflex_decisions_total') decisions[m.labels.verdict] = m.value;
    if (m.name === 'reflex_consumer_lag') lag += m.value;
  }
  const now = Date.now();
  let perSecond = {};
  if (rates.last) {
    const dt = (now - rates.last.at) / 1000;
    for (const [v, n] of Object.entries(decisions)) {
      perSecond[v] = Math.max(0, (n - (rates.last.decisions[v] || 0)) / dt);
    }
    rates.history.push(perSecond);
    if (rates.history.length > 60) rates.history.shift();
  }
  rates.last = { at: now, decisions };
  const tile = (label, value, id) =>
    el('div', { className: 'tile', id }, el('div', { className: 'value' }, value),
       el('div', { className: 'label' }, label));
  const fmt = (x) => (x === undefined ? '…' : x.toFixed(1));
  page('Overview',
    el('div', { className: 'tiles' },
      tile('known events/s', fmt(perSecond.known), 'rate-known'),
      tile('unknown events/s', fmt(perSecond.unknown), 'rate-unknown'),
      tile('suppressed events/s', fmt(perSecond.suppressed), 'rate-suppressed'),
      tile('open escalations', open.items.length + (open.next_cursor ? '+' : ''), 'open-escalations'),
      tile('awaiting approval', approvals.items.length, 'pending-approvals'),
      tile('consumer lag', String(lag), 'lag'),
      tile('rule set', rules.version, 'ruleset')),
    el('h2', {}, 'Decisions per second, last two minutes'),
    spark(rates.history),
    el('p', {}, 'Known (blue) and unknown (red); refreshed every 2 s.'));
  state.timer = setTimeout(() => { if (location.hash === '#/overview') route(); }, 2000);
}

function spark(history) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 600 60');
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(1, ...history.map((h) => Math.max(h.known || 0, h.unknown || 0)));
  for (const [verdict, colour] of [['known', '#1d5fd1'], ['unknown', '#b42318']]) {
    const points = history.map((h, i) => `${i * 10},${58 - ((h[verdict] || 0) / max) * 56}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', colour);
    line.setAttribute('stroke-width', '2');
    svg.append(line);
  }
  return svg;
}

// ---- escalations ---------------------------------------------------------------------------

async function escalations(params) {
  const q = new URLSearchParams({ state: params.get('state') || 'open', limit: '50' });
  for (const k of ['kind', 'q', 'cursor']) if (params.get(k)) q.set(k, params.get(k));
  const list = await api('GET', '/escalations?' + q);
  const stateSel = el('select', { id: 'filter-state', name: 'state' },
    ...['open', 'acknowledged', 'resolved', 'all'].map((s) =>
      el('option', { value: s, selected: s === q.get('state') }, s)));
  const text = el('input', { id: 'filter-q', name: 'q', value: params.get('q') || '',
                             placeholder: 'text in the shape' });
  const form = el('form', { className: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams({ state: stateSel.value });
    if (text.value) p.set('q', text.value);
    location.hash = '#/escalations?' + p;
  } }, el('div', {}, el('label', { for: 'filter-state' }, 'State'), stateSel),
     el('div', {}, el('label', { for: 'filter-q' }, 'Shape contains'), text),
     el('button', { type: 'submit' }, 'Filter'));
  const rows = list.items.map((g) => el('tr', { 'data-id': g.id },
    el('td', {}, el('a', { href: `#/escalations/${g.id}` }, '#' + g.id)),
    el('td', { className: 'state-' + g.state }, g.state),
    el('td', {}, g.kind),
    el('td', { className: 'num' }, g.count),
    el('td', {}, when(g.last_seen)),
    el('td', {}, el('code', {}, shapeText(g.shape)),
       g.symptoms ? el('div', {}, `${g.symptoms} symptom(s) of ${g.root_cause}`) : null)));
  const next = list.next_cursor
    ? el('a', { href: '#/escalations?' + new URLSearchParams({ ...Object.fromEntries(q), cursor: list.next_cursor }) }, 'Older →')
    : null;
  page('Escalations', form,
    rows.length
      ? el('table', { id: 'escalations' },
          el('thead', {}, el('tr', {}, ...['', 'state', 'kind', 'count', 'last seen', 'shape']
            .map((h, i) => el('th', { className: i === 3 ? 'num' : '' }, h)))),
          el('tbody', {}, rows))
      : el('p', { id: 'no-escalations' }, 'Nothing to show.'),
    next);
}

async function escalation(id) {
  const g = await api('GET', `/escalations/${id}`);
  const note = el('input', { id: 'note', name: 'note', placeholder: 'note (required to resolve)' });
  const actions = canOperate() && g.state !== 'resolved'
    ? el('div', { className: 'actions-row' },
        el('div', {}, el('label', { for: 'note' }, 'Note'), note),
        g.state === 'open' ? el('button', { type: 'button', id: 'ack', onclick: () =>
          change('Acknowledge', () => api('POST', `/escalations/${id}/ack`, { note: note.value })) },
          'Acknowledge') : null,
        el('button', { type: 'button', id: 'resolve', onclick: () =>
          change('Resolve', () => api('POST', `/escalations/${id}/resolve`, { note: note.value })) },
          'Resolve'))
    : null;
  const facts = el('table', {}, el('tbody', {},
    ...[['state', g.state + (g.state_by ? ` by ${g.state_by} (${g.state_note || 'no note'})` : '')],
        ['kind', g.kind], ['count', g.count], ['first seen', when(g.first_seen)],
        ['last seen', when(g.last_seen)], ['shape', shapeText(g.shape)],
        ['reopened', g.reopen_count],
        g.root_cause ? ['root cause', `${g.root_cause} (${g.symptoms} symptoms)`] : null,
        g.action ? ['action', `${g.action} of ${g.table}/${g.row}: ${g.reason}`] : null]
      .filter(Boolean).map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))));
  const samples = (g.samples || []).map((s, i) => el('div', { className: 'card sample' },
    el('div', {}, `sample ${i + 1}, ${when(s.at)}`, s.truncated ? ' (truncated)' : ''),
    el('pre', {}, s.event ? JSON.stringify(s.event, null, 2) : s.event_text),
    s.event ? el('button', { type: 'button', className: 'secondary explain', onclick: async (ev) => {
      const out = ev.target.nextElementSibling;
      out.replaceChildren(explanation(await api('POST', '/explain', s.event)));
    } }, 'Why did nothing match?') : null,
    el('div', { className: 'explanation' })));
  const history = (g.history || []).map((h) =>
    el('li', {}, `${when(h.at)} ${h.state} by ${h.by}${h.note ? ': ' + h.note : ''}`));
  page(`Escalation #${g.id}`, facts, actions,
    history.length ? el('h2', {}, 'History') : null, history.length ? el('ul', {}, history) : null,
    el('h2', {}, 'Sample events'), samples.length ? samples : el('p', {}, 'No samples kept.'));
}

// The live rules' answer for an event: the verdict, and per table the rows that decided or
// the nearest rows with the cells that failed.
function explanation(x) {
  const parts = [el('p', {}, 'Verdict with the live rules ', el('strong', { className: 'verdict' }, x.verdict),
    ` (rule set ${x.ruleset})`)];
  for (const t of x.tables || []) {
    if (t.decided && t.decided.length) {
      parts.push(el('p', {}, `${t.table}: decided by ${t.decided.map((d) => d.row).join(', ')}`));
    } else if (t.near_misses && t.near_misses.length) {
      parts.push(el('p', {}, `${t.table} (${t.file}): nearest rows`),
        el('ul', {}, t.near_misses.map((m) => el('li', {}, `${m.row} (line ${m.line}): `,
          m.failed.map((f) => el('span', { className: 'failed' },
            `${f.column} ${f.condition} failed at ${f.cell}, the event had ${JSON.stringify(f.actual)}; `))))));
    }
  }
  return el('div', {}, parts);
}

// ---- approvals -----------------------------------------------------------------------------

async function approvals() {
  const list = await api('GET', '/approvals');
  const rows = list.items.map((r) => {
    const reason = el('input', { name: 'reason', 'aria-label': `reason for run ${r.id}`,
                                 placeholder: 'reason (required to reject)' });
    return el('tr', { 'data-id': r.id },
      el('td', {}, '#' + r.id), el('td', {}, r.action),
      el('td', {}, `${r.table}/${r.row}`), el('td', {}, r.event_id),
      el('td', {}, when(r.approval_deadline)),
      el('td', {}, el('pre', {}, JSON.stringify(r.request, null, 2))),
      el('td', {}, canOperate()
        ? el('div', {}, reason,
            el('button', { type: 'button', className: 'approve', onclick: () =>
              change(`Approve run ${r.id}`, () => api('POST', `/approvals/${r.id}/approve`, { reason: reason.value })) }, 'Approve'),
            ' ',
            el('button', { type: 'button', className: 'danger reject', onclick: () =>
              change(`Reject run ${r.id}`, () => api('POST', `/approvals/${r.id}/reject`, { reason: reason.value })) }, 'Reject'))
        : el('span', { className: 'muted' }, 'viewers cannot approve')));
  });
  page('Approvals', rows.length
    ? el('table', { id: 'approvals' }, el('thead', {}, el('tr', {},
        ...['run', 'action', 'row', 'event', 'expires', 'request', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows))
    : el('p', { id: 'no-approvals' }, 'Nothing awaits approval.'));
}

// ---- rules ---------------------------------------------------------------------------------

async function rules() {
  const [set, history] = await Promise.all([api('GET', '/rules'), api('GET', '/rules/history')]);
  const tables = set.tables.map((t) => el('div', { className: 'card' },
    el('h2', {}, `${t.name} `, el('code', {}, t.file), ` (${t.hit_policy})`),
    el('table', { className: 'rows' }, el('thead', {}, el('tr', {},
      ...['row', 'line', 'actions', 'hits', ''].map((h, i) => el('th', { className: i === 3 ? 'num' : '' }, h)))),
      el('tbody', {}, t.rows.map((r) => el('tr', { className: r.hits === 0 ? 'dead' : '' },
        el('td', {}, r.id), el('td', {}, r.line), el('td', {}, r.actions.join(', ')),
        el('td', { className: 'num' }, r.hits === null ? '' : r.hits),
        el('td', {}, r.hits === 0 ? 'never hit since start' : '')))))));
  const reload = isAdmin()
    ? el('button', { type: 'button', id: 'reload', onclick: () =>
        change('Reload', () => api('POST', '/rules/reload', {})) }, 'Reload the rules directory')
    : null;
  const versions = el('table', { id: 'history' }, el('thead', {}, el('tr', {},
    ...['version', 'went live', 'trigger', 'tables', 'rows', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, history.items.map((h) => el('tr', {},
      el('td', {}, el('code', {}, h.version), h.current ? ' (live)' : ''),
      el('td', {}, new Date(h.activated_at_ms).toISOString()), el('td', {}, h.trigger),
      el('td', {}, h.tables), el('td', {}, h.rows),
      el('td', {}, isAdmin() && !h.current ? el('button', { type: 'button', className: 'secondary', onclick: () =>
        change(`Roll back to ${h.version}`, () => api('POST', '/rules/rollback', { version: h.version })) }, 'Roll back') : '')))));
  page('Rules', el('p', {}, `Live rule set `, el('code', { id: 'version' }, set.version), ` from ${set.rules_dir}`),
    reload, ...tables, el('h2', {}, 'History'), versions);
}

// ---- audit ---------------------------------------------------------------------------------

async function audit(params) {
  const q = new URLSearchParams({ limit: '100' });
  for (const k of ['actor', 'action', 'cursor']) if (params.get(k)) q.set(k, params.get(k));
  const list = await api('GET', '/audit?' + q);
  const rows = list.items.map((e) => el('tr', {},
    el('td', {}, when(e.at)), el('td', {}, e.actor + (e.role ? ` (${e.role})` : '')),
    el('td', {}, e.via), el('td', {}, e.action), el('td', {}, e.target),
    el('td', {}, e.outcome), el('td', {}, e.detail)));
  page('Audit log', rows.length
    ? el('table', { id: 'audit' }, el('thead', {}, el('tr', {},
        ...['at', 'actor', 'via', 'action', 'target', 'outcome', 'detail'].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows))
    : el('p', {}, 'No entries.'),
    list.next_cursor ? el('a', { href: '#/audit?' + new URLSearchParams({ ...Object.fromEntries(q), cursor: list.next_cursor }) }, 'Older →') : null);
}

// ---- routing -------------------------------------------------------------------------------

const routes = [
  [/^#\/overview$/, guarded(overview)],
  [/^#\/escalations\/(\d+)$/, guarded((m) => escalation(m[1]))],
  [/^#\/escalations(\?.*)?$/, guarded((m, p) => escalations(p))],
  [/^#\/approvals$/, guarded(approvals)],
  [/^#\/rules$/, guarded(rules)],
  [/^#\/audit(\?.*)?$/, guarded((m, p) => audit(p))],
];

function route() {
  clearTimeout(state.timer);
  if (!state.who) return;
  const hash = location.hash || '#/overview';
  const params = new URLSearchParams(hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '');
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', hash.startsWith(a.getAttribute('href')));
  }
  for (const [re, render] of routes) {
    const m = hash.match(re);
    if (m) return render(m, params);
  }
  location.hash = '#/overview';
}

window.addEventListener('hashchange', () => { flash(''); route(); });
window.addEventListener('DOMContentLoaded', async () => {
  const pending = sessionStorage.getItem('reflex.flash');
  if (pending) { flash(pending, true); sessionStorage.removeItem('reflex.flash'); }
  document.getElementById('signout').addEventListener('click', () => signOut());
  document.getElementById('signin').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await signIn(document.getElementById('token').value.trim());
      route();
    } catch (e) {
      document.getElementById('signin-error').textContent = e.message || String(e);
    }
  });
  if (state.token) {
    try { await signIn(state.token); route(); } catch (e) { /* the sign-in form stays */ }
  }
});
