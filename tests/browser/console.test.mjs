// The console in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real `reflex run` on its embedded broker, its HTTP server on 127.0.0.1, and a
// webhook receiver on 127.0.0.1 for the action the test approves.
//
//   node console.test.mjs <path of the reflex binary> <artifact directory>
//
// Scenarios (each a node:test test, run in order against the one engine):
//   - an unknown event posted to the webhook appears as an escalation; its detail explains
//     with the live rules why nothing matched (the row and the cell that failed);
//   - an operator resolves it from the page, and the audit log shows it;
//   - an action that needs approval is approved from the Approvals page and runs;
//   - a viewer sees the approvals but cannot approve: no buttons, and the API says 403;
//   - the rules page shows the rows with their hit counts;
//   - an admin teaches a row from a new unknown event (draft, check, save), the escalation is
//     resolved with a link to the row, and the same event sent again is known and its
//     action runs; the Decisions page shows it decided by the taught row.
// Screenshots of each page are written to the artifact directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const reflexBinary = process.argv[2] || process.env.REFLEX_BINARY;
const artifacts = process.argv[3] || process.env.REFLEX_ARTIFACTS || join(tmpdir(), 'reflex-console');
const OPERATOR = 'operator-token-for-the-console-test';
const VIEWER = 'viewer-token-for-the-console-test';
const ADMIN = 'admin-token-for-the-console-test';

let reflex, base, browser, receiver, received = [], notified = [], dir, stderr = '';

// Waits (bounded) until fn() returns something truthy.
async function until(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stderr.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function post(path, body, token) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}
async function get(path, token) {
  const res = await fetch(base + path, { headers: { Authorization: 'Bearer ' + token } });
  return res.json();
}

// Opens a page of the console afresh (a reload, so it is drawn from the server's state now).
async function show(p, hash, ready) {
  await p.goto(base + '/console/' + hash);
  await p.reload();
  await p.waitForSelector(ready);
}

async function page(token) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  const p = await context.newPage();
  p.on('pageerror', (e) => { throw e; });
  await p.goto(base + '/console/');
  await p.fill('#token', token);
  await p.press('#token', 'Enter');
  await p.waitForSelector('#nav:not([hidden])');
  return p;
}

before(async () => {
  assert.ok(reflexBinary, 'usage: node console.test.mjs <reflex binary> [artifact dir]');
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'reflex-console-'));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      (req.url === '/notify' ? notified : received).push(JSON.parse(body));
      res.writeHead(200).end('{}');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${receiver.address().port}/restart`;
  const notify = `http://127.0.0.1:${receiver.address().port}/notify`;
  mkdirSync(join(dir, 'rules/tables'), { recursive: true });
  writeFileSync(join(dir, 'rules/tables/services.csv'),
    'table,services\nhit_policy,first\nid,labels.alertname,labels.service,actions,param.host\n' +
    'web-down,ServiceDown,web,restart_service,{{labels.instance}}\n' +
    'db-down,ServiceDown,db,escalate,\n');
  writeFileSync(join(dir, 'rules/actions.yaml'),
    'actions:\n  restart_service:\n    kind: webhook\n    params: [host]\n' +
    `    url: ${hook}\n    body: {host: "{{params.host}}", event: "{{event.id}}"}\n` +
    '    approval: required\n    approval_ttl: 30m\n' +
    '  notify_team:\n    kind: webhook\n    params: [host]\n' +
    `    url: ${notify}\n    body: {paged_for: "{{params.host}}", event: "{{event.id}}"}\n`);
  writeFileSync(join(dir, 'reflex.yaml'),
    `rules: ${dir}/rules\nstate_dir: ${dir}/state\nwatch_rules: false\n` +
    'processing: {batch_wait_ms: 5}\n' +
    'http:\n  listen: 127.0.0.1:0\n  api_tokens:\n' +
    '    - {name: olga, role: operator, token_env: CONSOLE_TEST_OPERATOR}\n' +
    '    - {name: victor, role: viewer, token_env: CONSOLE_TEST_VIEWER}\n' +
    '    - {name: ada, role: admin, token_env: CONSOLE_TEST_ADMIN}\n');
  reflex = spawn(reflexBinary, ['run', '--config', join(dir, 'reflex.yaml')], {
    env: { ...process.env, CONSOLE_TEST_OPERATOR: OPERATOR, CONSOLE_TEST_VIEWER: VIEWER,
           CONSOLE_TEST_ADMIN: ADMIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  reflex.stdout.on('data', (c) => { stdout += c; });
  reflex.stderr.on('data', (c) => { stderr += c; });
  const m = await until('the console address', () => stdout.match(/console on (http:\/\/[\d.:]+)\/console\//), 60000);
  base = m[1];
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (reflex && reflex.exitCode === null) {
    reflex.kill('SIGTERM');
    await new Promise((r) => { reflex.on('exit', r); setTimeout(r, 30000); });
  }
  if (receiver) receiver.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an unknown event appears as an escalation, explained with the row and cell that failed', async () => {
  const sent = await post('/v1/events', { id: 'disk-1', labels: { alertname: 'ServiceDown', service: 'mail', instance: 'mail-1' } });
  assert.equal(sent.status, 202, sent.body);
  const p = await page(OPERATOR);
  await until('the escalation in the list', async () => {
    await show(p, '#/escalations', '#escalations, #no-escalations');
    return (await p.locator('#escalations tbody tr').count()) > 0;
  });
  const row = p.locator('#escalations tbody tr').first();
  assert.match(await row.innerText(), /unknown_event[\s\S]*alertname=ServiceDown/);
  await p.screenshot({ path: join(artifacts, 'console-escalations.png'), fullPage: true });
  await row.locator('a').click();
  await p.click('button.explain');
  await p.waitForSelector('.explanation .verdict');
  assert.equal(await p.locator('.explanation .verdict').first().innerText(), 'unknown');
  const why = await p.locator('.explanation').first().innerText();
  assert.match(why, /web-down/);
  assert.match(why, /labels\.service/);
  assert.match(why, /"mail"/);
  await p.screenshot({ path: join(artifacts, 'console-escalation-explained.png'), fullPage: true });

  await p.fill('#note', 'mail is being migrated');
  await p.click('#resolve');
  await p.waitForSelector('.state-resolved, td:has-text("resolved by olga")');
  const timeline = await p.locator('#timeline').innerText();
  assert.match(timeline, /open by reflex: first seen\n.*sample 1 kept\n.*last seen \(1 event\)\n.*resolved by olga: mail is being migrated$/);
  const audit = await get('/api/v1/audit?action=escalation.resolve', OPERATOR);
  assert.equal(audit.items.length, 1);
  assert.equal(audit.items[0].actor, 'olga');
  assert.equal(audit.items[0].detail, 'mail is being migrated');
  await p.context().close();
});

test('an operator approves an action from the Approvals page and it runs', async () => {
  const sent = await post('/v1/events', { id: 'web-1', labels: { alertname: 'ServiceDown', service: 'web', instance: 'web-7' } });
  assert.equal(sent.status, 202, sent.body);
  const p = await page(OPERATOR);
  await until('the run awaiting approval', async () => {
    await show(p, '#/approvals', '#approvals, #no-approvals');
    return (await p.locator('#approvals tbody tr').count()) > 0;
  });
  assert.match(await p.locator('#approvals tbody tr').first().innerText(), /restart_service/);
  await p.screenshot({ path: join(artifacts, 'console-approvals.png'), fullPage: true });
  assert.equal(received.length, 0, 'nothing runs before the approval');
  await p.locator('#approvals tbody tr').first().locator('input[name=reason]').fill('web-7 is safe to restart');
  await p.locator('#approvals tbody tr').first().locator('button.approve').click();
  await p.waitForSelector('#no-approvals');
  await until('the approved action to run', () => received.length > 0);
  assert.deepEqual(received[0], { host: 'web-7', event: 'web-1' });
  const audit = await get('/api/v1/audit?action=approval.approve', OPERATOR);
  assert.equal(audit.items[0].actor, 'olga');
  await p.context().close();
});

test('a viewer sees what awaits approval but cannot approve it', async () => {
  const sent = await post('/v1/events', { id: 'web-2', labels: { alertname: 'ServiceDown', service: 'web', instance: 'web-8' } });
  assert.equal(sent.status, 202, sent.body);
  const p = await page(VIEWER);
  await until('the second run awaiting approval', async () => {
    await show(p, '#/approvals', '#approvals, #no-approvals');
    return (await p.locator('#approvals tbody tr').count()) > 0;
  });
  assert.equal(await p.locator('button.approve').count(), 0);
  assert.match(await p.locator('#approvals').innerText(), /viewers cannot approve/);
  const runs = await get('/api/v1/approvals', VIEWER);
  const refused = await post(`/api/v1/approvals/${runs.items[0].id}/approve`, {}, VIEWER);
  assert.equal(refused.status, 403, refused.body);
  assert.equal(received.length, 1, 'the viewer ran nothing');
  await p.context().close();
});

test('the rules page shows each row with its hit count', async () => {
  const p = await page(VIEWER);
  await show(p, '#/rules', 'table.rows');
  const text = await p.locator('table.rows').innerText();
  assert.match(text, /web-down\s+\d+\s+restart_service\s+2/);
  assert.match(await p.locator('tr.dead').innerText(), /db-down/);
  await p.screenshot({ path: join(artifacts, 'console-rules.png'), fullPage: true });
  await p.context().close();
});

test('an admin teaches a row from an unknown event; the same event is then known and its action runs', async () => {
  const labels = { alertname: 'ServiceDown', service: 'queue', instance: 'queue-1' };
  const sent = await post('/v1/events', { id: 'queue-1', labels });
  assert.equal(sent.status, 202, sent.body);
  const p = await page(ADMIN);
  const group = await until('the queue escalation', async () => {
    const open = await get('/api/v1/escalations?state=open', ADMIN);
    return open.items.find((g) => g.kind === 'unknown_event');
  });
  await show(p, `#/escalations/${group.id}`, '#teach');
  await p.click('#teach');
  await p.waitForSelector('#teach-row');
  // Prefilled from the event where the nearest rows have conditions; action from the nearest row.
  assert.equal(await p.inputValue('input[name="labels.service"]'), 'queue');
  assert.equal(await p.inputValue('input[name="labels.alertname"]'), 'ServiceDown');
  assert.equal(await p.inputValue('input[name="actions"]'), 'restart_service');
  assert.equal(await p.inputValue('input[name="param.host"]'), '{{labels.instance}}');
  await p.fill('input[name="id"]', 'queue-down');
  await p.selectOption('#teach-action', 'notify_team');
  assert.equal(await p.inputValue('input[name="actions"]'), 'notify_team');
  assert.ok(await p.isDisabled('#teach-save'), 'nothing is saved before a passing check');
  await p.click('#teach-check');
  await p.waitForSelector('#teach-verdict');
  assert.equal(await p.locator('#teach-verdict').innerText(), 'The row can be saved.',
    await p.locator('#teach-result').innerText());
  assert.match(await p.locator('#teach-samples').innerText(), /queue-1: known by queue-down \(the new row\)/);
  assert.match(await p.locator('#teach-line').innerText(), /^queue-down,ServiceDown,queue,notify_team,\{\{labels\.instance\}\}$/);
  await p.screenshot({ path: join(artifacts, 'console-teach.png'), fullPage: true });
  await p.fill('#teach-note', 'queue alerts page the team');
  await p.click('#teach-save');
  await p.waitForSelector('#taught');
  assert.match(await p.locator('#flash').innerText(), /Saved row services\/queue-down at tables\/services\.csv:6/);
  const after = await get(`/api/v1/escalations/${group.id}`, ADMIN);
  assert.equal(after.state, 'resolved');
  assert.match(after.state_note, /taught row services\/queue-down at tables\/services\.csv:6/);
  await p.click('#taught a');
  await p.waitForSelector('tr.focus');
  assert.match(await p.locator('tr.focus').innerText(), /queue-down/);

  // The same event again: known, and the taught row's action runs.
  const again = await post('/v1/events', { id: 'queue-2', labels: { ...labels, instance: 'queue-2' } });
  assert.equal(again.status, 202, again.body);
  await until('the taught action to run', () => notified.length > 0);
  assert.deepEqual(notified[0], { paged_for: 'queue-2', event: 'queue-2' });
  await show(p, '#/decisions?table=services&row=queue-down', '#decisions, #no-decisions');
  assert.match(await p.locator('#decisions tbody tr').first().innerText(), /queue-2\s+\S+\s+known\s+services\/queue-down/);
  await show(p, '#/decisions?verdict=unknown', '#decisions');
  assert.match(await p.locator('#decisions').innerText(), /queue-1[\s\S]*unknown/);
  await p.screenshot({ path: join(artifacts, 'console-decisions.png'), fullPage: true });
  const explained = await post('/api/v1/explain', { id: 'queue-3', labels }, ADMIN);
  assert.equal(JSON.parse(explained.body).verdict, 'known');
  const audit = await get('/api/v1/audit?action=rules.teach', ADMIN);
  assert.equal(audit.items[0].actor, 'ada');
  assert.equal(audit.items[0].target, 'rules/services/queue-down');
  await p.context().close();
});
