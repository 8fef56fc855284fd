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

// ---- decisions -----------------------------------------------------------------------------

// The last decisions this engine made (http.recent_decisions of them), filtered by verdict,
// table and row.
async function decisions(params) {
  const q = new URLSearchParams({ limit: '100' });
  for (const k of ['verdict', 'table', 'row', 'cursor']) if (params.get(k)) q.set(k, params.get(k));
  const list = await api('GET', '/decisions?' + q);
  const verdict = el('select', { id: 'filter-verdict', name: 'verdict' },
    ...['', 'known', 'suppressed', 'unknown', 'pending'].map((v) =>
      el('option', { value: v, selected: v === (params.get('verdict') || '') }, v || 'any')));
  const table = el('input', { id: 'filter-table', name: 'table', value: params.get('table') || '' });
  const row = el('input', { id: 'filter-row', name: 'row', value: params.get('row') || '' });
  const form = el('form', { className: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (verdict.value) p.set('verdict', verdict.value);
    if (table.value) p.set('table', table.value);
    if (row.value) p.set('row', row.value);
    location.hash = '#/decisions?' + p;
  } }, el('div', {}, el('label', { for: 'filter-verdict' }, 'Verdict'), verdict),
     el('div', {}, el('label', { for: 'filter-table' }, 'Table'), table),
     el('div', {}, el('label', { for: 'filter-row' }, 'Row'), row),
     el('button', { type: 'submit' }, 'Filter'));
  const rows = list.items.map((d) => el('tr', {},
    el('td', {}, when(d.at)), el('td', {}, el('code', {}, d.event_id)), el('td', {}, d.source),
    el('td', { className: 'verdict-' + d.verdict }, d.verdict),
    el('td', {}, d.rows.map((r) => `${r.table}/${r.row}`).join(', ')),
    el('td', {}, d.muted || '')));
  const next = list.next_cursor
    ? el('a', { href: '#/decisions?' + new URLSearchParams({ ...Object.fromEntries(q), cursor: list.next_cursor }) }, 'Older →')
    : null;
  page('Decisions',
    el('p', { className: 'muted' }, `The last ${list.capacity} decisions of this engine are kept; the decisions topic has them all.`),
    form,
    rows.length
      ? el('table', { id: 'decisions' }, el('thead', {}, el('tr', {},
          ...['at', 'event', 'source', 'verdict', 'rows', 'muted'].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows))
      : el('p', { id: 'no-decisions' }, 'No decisions to show.'),
    next);
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
  const taught = /taught row ([^\s/]+)\/([^\s(]+)/.exec(g.state_note || '');
  const teach = g.kind === 'unknown_event' && (g.samples || []).some((s) => !s.truncated)
    ? el('p', {}, el('a', { href: `#/escalations/${id}/teach`, id: 'teach', className: 'button' },
        'Teach a rule from this event'),
        ' — draft a decision-table row from the sample, check it against the table and its test cases, and save it (admin).')
    : null;
  // One timeline: each state change (the first is its opening), the samples kept, last seen.
  const timeline = [
    ...(g.history || []).map((h) => ({ at: h.at, text: `${h.state} by ${h.by}${h.note ? ': ' + h.note : ''}` })),
    ...(g.samples || []).map((s, i) => ({ at: s.at, text: `sample ${i + 1} kept` })),
    { at: g.last_seen, text: `last seen (${g.count} event${g.count === 1 ? '' : 's'})` },
  ].filter((e) => e.at).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const history = timeline.map((e) => el('li', {}, el('time', {}, when(e.at)), ' ', e.text));
  page(`Escalation #${g.id}`, facts,
    taught ? el('p', { id: 'taught' }, 'Taught: ', el('a', { href: `#/rules?row=${encodeURIComponent(taught[1] + '/' + taught[2])}` },
      `row ${taught[1]}/${taught[2]}`)) : null,
    actions, teach,
    el('h2', {}, 'Timeline'), el('ul', { id: 'timeline' }, history),
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

// ---- teach ---------------------------------------------------------------------------------

// A draft row for an escalation's sample event, edited cell by cell, checked (reflex check and
// reflex test on the directory with the row, each sample decided again) and saved by admins.
async function teach(id, params) {
  const q = params.get('table') ? '?' + new URLSearchParams({ table: params.get('table') }) : '';
  const d = await api('GET', `/escalations/${id}/teach${q}`);
  const tableSel = el('select', { id: 'teach-table', onchange: () => {
    location.hash = `#/escalations/${id}/teach?` + new URLSearchParams({ table: tableSel.value });
  } }, ...d.tables.map((t) => el('option', { value: t, selected: t === d.table }, t)));
  const inputs = d.columns.map((c, i) => el('input', {
    id: `cell-${i}`, name: c.header, value: d.cells[i], 'aria-label': c.header,
    className: c.prefilled ? 'prefilled' : '', oninput: () => { saveBtn.disabled = true; } }));
  const actionCol = d.columns.findIndex((c) => c.kind === 'action');
  const catalog = actionCol >= 0 ? el('select', { id: 'teach-action', 'aria-label': 'action from the catalog', onchange: () => {
    const a = d.catalog.actions.find((x) => x.name === catalog.value);
    if (!a) return;
    // Parameters a param.<name> column gives every action of the row are not repeated.
    const covered = new Set(d.columns.filter((c) => c.kind === 'param').map((c) => c.header.replace(/^params?\./i, '')));
    const rest = a.params.filter((x) => !covered.has(x));
    inputs[actionCol].value = rest.length ? `${a.name}(${rest.map((x) => x + '=').join(', ')})` : a.name;
    saveBtn.disabled = true;
  } }, el('option', { value: '' }, 'choose from the catalog…'),
    ...d.catalog.actions.map((a) => el('option', { value: a.name }, a.params.length ? `${a.name} (${a.params.join(', ')})` : a.name))) : null;
  const hint = (c) => {
    const parts = [];
    if (c.kind === 'condition') {
      parts.push(c.observed === null ? 'the event has no such field' : `the event: ${c.observed}`);
    }
    if (c.nearest) parts.push(`${d.nearest_row}: ${c.nearest}`);
    return parts.join(' · ');
  };
  const grid = el('table', { id: 'teach-row', className: 'form-grid' }, el('tbody', {},
    d.columns.map((c, i) => el('tr', {},
      el('th', {}, el('label', { for: `cell-${i}` }, c.header), el('div', { className: 'muted' }, c.kind)),
      el('td', {}, inputs[i], i === actionCol ? catalog : null),
      el('td', { className: 'muted' }, hint(c))))));
  const result = el('div', { id: 'teach-result' });
  const body = () => ({ table: d.table, cells: inputs.map((x) => x.value) });
  const note = el('input', { id: 'teach-note', name: 'note', placeholder: 'resolution note (optional)' });
  const checkBtn = el('button', { type: 'button', id: 'teach-check', onclick: async () => {
    try {
      const c = await api('POST', `/escalations/${id}/teach/check`, body());
      result.replaceChildren(teachReport(c));
      saveBtn.disabled = !c.ok;
      flash(c.ok ? 'Check passed: the row can be saved' : 'Check failed: see below', !c.ok);
    } catch (e) { flash('Check: ' + e.message, true); }
  } }, 'Check');
  const saveBtn = el('button', { type: 'button', id: 'teach-save', disabled: true, onclick: async () => {
    try {
      const s = await api('POST', `/escalations/${id}/teach`, { ...body(), note: note.value });
      state.nextFlash = `Saved row ${s.table}/${s.row} at ${s.file}:${s.line}; rule set ${s.version} is live`;
      location.hash = `#/escalations/${id}`;
    } catch (e) { flash('Save: ' + e.message, true); }
  } }, 'Save row');
  page(`Teach a rule from escalation #${id}`,
    el('p', {}, 'Table ', tableSel, ' ', el('code', {}, d.file),
      d.nearest_row ? ` — starting from its nearest row ${d.nearest_row}.` : ' — no row came near.'),
    el('p', { className: 'muted' }, 'Conditions the nearest rows use hold the event\'s exact values. ' +
      'Widen them as the table language allows: in(a,b), prefix(db-), [80,95), >= 90, or leave a cell blank to match anything.'),
    grid,
    el('div', { className: 'actions-row' }, checkBtn,
      isAdmin() ? el('div', {}, el('label', { for: 'teach-note' }, 'Note'), note) : null,
      isAdmin() ? saveBtn : el('span', { className: 'muted' }, 'Only admins save rows; anyone may check one.')),
    result);
}

function teachReport(c) {
  return el('div', { className: 'card ' + (c.ok ? 'ok' : 'bad') },
    el('p', {}, el('strong', { id: 'teach-verdict' }, c.ok ? 'The row can be saved.' : 'The row cannot be saved yet.'),
      ` It goes to ${c.file} line ${c.line}, with a test case in ${c.cases_file}.`),
    c.problems.length ? el('ul', { id: 'teach-problems' }, c.problems.map((p) => el('li', { className: 'error' }, p))) : null,
    c.notes.length ? el('ul', { id: 'teach-notes' }, c.notes.map((n) => el('li', { className: 'warning' }, n))) : null,
    c.diagnostics.length ? el('div', {}, el('h2', {}, 'reflex check'),
      el('ul', { id: 'teach-diagnostics' }, c.diagnostics.map((x) => el('li', { className: x.severity }, x.text)))) : null,
    el('h2', {}, 'Samples with the row'),
    el('ul', { id: 'teach-samples' }, c.samples.map((s) =>
      el('li', {}, `${s.event_id || 'sample'}: ${s.verdict}` + (s.rows.length ? ` by ${s.rows.join(', ')}` : '') +
        (s.by_row ? ' (the new row)' : '') + (s.error ? ` — ${s.error}` : '')))),
    el('h2', {}, 'reflex test'),
    el('p', { id: 'teach-cases' }, `${c.cases.passed} passed, ${c.cases.failed} failed`),
    c.cases.failures.length ? el('ul', {}, c.cases.failures.map((f) => el('li', { className: 'error' }, f))) : null,
    el('h2', {}, 'The line added to the table'), el('pre', { id: 'teach-line' }, c.csv_line));
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

async function rules(params) {
  const focus = (params && params.get('row')) || '';
  const [set, history] = await Promise.all([api('GET', '/rules'), api('GET', '/rules/history')]);
  const tables = set.tables.map((t) => el('div', { className: 'card' },
    el('h2', {}, `${t.name} `, el('code', {}, t.file), ` (${t.hit_policy})`),
    el('table', { className: 'rows' }, el('thead', {}, el('tr', {},
      ...['row', 'line', 'actions', 'hits', 'last hit', ''].map((h, i) => el('th', { className: i === 3 ? 'num' : '' }, h)))),
      el('tbody', {}, t.rows.map((r) => el('tr', { id: `row-${t.name}/${r.id}`,
        className: (r.hits === 0 ? 'dead' : '') + (focus === `${t.name}/${r.id}` ? ' focus' : '') },
        el('td', {}, r.id), el('td', {}, r.line), el('td', {}, r.actions.join(', ')),
        el('td', { className: 'num' }, r.hits === null ? '' : r.hits
          ? el('a', { href: '#/decisions?' + new URLSearchParams({ table: t.name, row: r.id }) }, String(r.hits))
          : r.hits),
        el('td', {}, when(r.last_hit)),
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
  const target = focus && document.getElementById(`row-${focus}`);
  if (target) target.scrollIntoView({ block: 'center' });
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
  [/^#\/escalations\/(\d+)\/teach(\?.*)?$/, guarded((m, p) => teach(m[1], p))],
  [/^#\/escalations(\?.*)?$/, guarded((m, p) => escalations(p))],
  [/^#\/decisions(\?.*)?$/, guarded((m, p) => decisions(p))],
  [/^#\/approvals$/, guarded(approvals)],
  [/^#\/rules(\?.*)?$/, guarded((m, p) => rules(p))],
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

window.addEventListener('hashchange', () => {
  // A message for the page navigated to (set just before), else none.
  flash(state.nextFlash || '');
  state.nextFlash = null;
  route();
});
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
