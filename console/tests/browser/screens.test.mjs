// Every screen end to end in Chromium against the real service, with no console error and no CSP
// violation on any of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, launch, openPage, seedSite, signIn, startService } from './harness.mjs';

let service;
let browser;
let site;
let admin;
let legal;

before(async () => {
  service = await startService();
  browser = await launch();
  site = await seedSite(service.url);
  admin = await openPage(browser);
  await signIn(admin.page, service.url, site.admin);
  legal = await openPage(browser, { viewport: { width: 360, height: 740 } });
  await signIn(legal.page, service.url, site.legal);
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

const open = async ({ page }, screen, query = '') => {
  await page.goto(`${service.url}/console/${screen}?site=${site.id}${query}`);
  await page.locator('h1').waitFor();
};

const text = (page, selector) => page.locator(selector).innerText();

test('find a person: the timeline oldest first, the current state and re-consent due', async () => {
  const { page, problems } = legal;
  await open(legal, 'people');
  await page.getByLabel('Subject id').fill('alice-1');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.locator('#timeline li').nth(1).waitFor();
  const items = await page.locator('#timeline li').allInnerTexts();
  assert.equal(items.length, 2);
  assert.match(items[0], /Granted\s+necessary, analytics\s+Refused\s+marketing, model_improvement/);
  assert.match(items[1], /Granted\s+necessary, analytics, marketing\s+Refused\s+model_improvement/);
  assert.match(items[0], /version 1/);
  assert.match(items[0], /shop\.example\/checkout/);
  // alice decided under version 1; version 2 is material, so she must be asked again.
  assert.match(await text(page, '#re-consent'), /Yes/);
  // The policy link opens that version's text.
  await page.locator('#timeline li').first().getByRole('link', { name: 'version 1' }).click();
  await page.locator('#policy-diff').waitFor();
  // Focus moved to the new screen's heading.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'screen-title');
  assert.deepEqual(problems, []);
});

test('a person the site never saw: said so, nothing breaks', async () => {
  const { page, problems } = legal;
  await open(legal, 'people', '&q=nobody-here');
  await page.locator('#person p').filter({ hasText: 'No records for nobody-here' }).waitFor();
  // The 404 of the lookup is the answer "no one"; nothing else went wrong.
  assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  problems.length = 0;
});

test('prove a decision: verified in the browser, with a bundle to download', async () => {
  const { page, problems } = legal;
  const record = site.records[2];
  await open(legal, 'records', `&id=${record.id}`);
  await page.locator('#proof-result.verified').waitFor();
  assert.match(await text(page, '#proof-result'), /^Verified/);
  const steps = await text(page, '#proof-steps');
  for (const step of ['batch head signature', 'record hash', 'batch inclusion', 'policy content', 'inclusion proof', 'tree head signature', 'record shown is the record signed']) assert.match(steps, new RegExp(`ok ${step}`));
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#bundle').click()]);
  const file = await download.path();
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(bundle.record.id, record.id);
  assert.equal(bundle.policy.version, 1);
  // A third party checks the bundle with the command line, offline, as its "about" says.
  const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(bundle.policy));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(bundle.jwks));
  const cli = spawnSync('node', [fileURLToPath(new URL('../../../scripts/verify-receipt.mjs', import.meta.url)),
    '--receipt', file, '--proof', file, '--policy', join(dir, 'policy.json'), '--jwks', join(dir, 'jwks.json')], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(cli.status, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /ok\s+inclusion proof/);
  assert.match(cli.stdout, /VERIFIED/);
  // The printable page: the proof and its check, without the menu and buttons.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('#nav').isVisible(), false);
  assert.equal(await page.locator('#recheck').isVisible(), false);
  assert.equal(await page.locator('#proof-steps').isVisible(), true);
  await page.emulateMedia({ media: 'screen' });
  assert.deepEqual(problems, []);
});

test('query the ledger with filters and pages; the export is a streamed download of every match', async () => {
  const { page, problems } = admin;
  await open(admin, 'ledger');
  await page.getByLabel('Purpose').fill('analytics');
  await page.getByLabel('Granted').selectOption('true');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#records tbody tr').first().waitFor();
  const rows = await page.locator('#records tbody tr').count();
  assert.equal(rows, 4, 'the four records granting analytics');
  const csvHref = await page.locator('#export-csv').getAttribute('href');
  assert.match(csvHref, /\/consents\/export\?purpose=analytics&granted=true&format=csv$/);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 4, 'a header and the four matching records');
  assert.ok(csv.every((line, i) => i === 0 || line.includes('true')));
  // The month's records: From/To are whole UTC days, To included.
  const today = new Date().toISOString().slice(0, 10);
  await open(admin, 'ledger', `&from=${today}&to=${today}`);
  assert.equal(await page.locator('#export-csv').getAttribute('href'),
    `/v1/sites/${site.id}/consents/export?from=${encodeURIComponent(new Date(today + 'T00:00:00Z').toISOString())}` +
    `&to=${encodeURIComponent(new Date(Date.parse(today + 'T00:00:00Z') + 864e5).toISOString())}&format=csv`);
  const [month] = await Promise.all([page.waitForEvent('download'), page.locator('#export-ndjson').click()]);
  const lines = readFileSync(await month.path(), 'utf8').trim().split('\n');
  assert.equal(lines.length, site.records.length, 'every record of the day');
  assert.equal(JSON.parse(lines[0]).id, site.records[0].id);
  assert.deepEqual(problems, []);
});

test('paging: the next page continues where the first ended, with no record twice', async () => {
  const { page, problems } = admin;
  // More records than a page holds (50), through the API as a back end would write them.
  for (let i = 0; i < 55; i++) {
    const r = await call(service.url, 'POST', `/v1/sites/${site.id}/consents`, site.admin,
      { subjectId: `bulk-${i}`, policyVersion: 2, method: 'api', purposes: { analytics: i % 2 === 0 } });
    assert.equal(r.status, 201);
  }
  await open(admin, 'ledger');
  await page.locator('#records tbody tr').first().waitFor();
  const first = await page.locator('#records tbody tr th').allInnerTexts();
  assert.equal(first.length, 50);
  await page.locator('#next-page').click();
  await page.waitForURL(/cursor=/);
  await page.locator('#records tbody tr').first().waitFor();
  const second = await page.locator('#records tbody tr th').allInnerTexts();
  assert.equal(second.length, 5 + 55 - 50);
  assert.equal(new Set([...first, ...second]).size, first.length + second.length);
  assert.deepEqual(problems, []);
});

test('the numbers: charts with a table of the same figures beside each', async () => {
  const { page, problems } = legal;
  await open(legal, 'numbers');
  await page.locator('#chart-optin .table-wrap table').waitFor();
  assert.match(await text(page, '#numbers-summary'), /decisions by \d+ people/);
  const optin = await text(page, '#chart-optin .table-wrap table');
  assert.match(optin, /analytics/);
  assert.match(optin, /\d+\.\d %/);
  await page.locator('#chart-optin canvas').waitFor();
  assert.match(await text(page, '#chart-methods .table-wrap table'), /api/);
  assert.match(await text(page, '#reconsent table'), /v2\s+yes/);
  // Version 2 is material: alice, bob and carol had decided before it; only bob decided again.
  const rate = await page.locator('#reconsent-rate .table-wrap').last().innerText();
  assert.match(rate, /v2\s+\S+\s+3\s+1\s+33\.3 %/);
  await page.getByLabel('Group by', { exact: true }).selectOption('week');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#chart-optin .table-wrap table').filter({ hasText: 'Week from (Monday)' }).waitFor();
  // Everything was recorded this week: one row, keyed by this week's Monday (UTC).
  const now = new Date();
  const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7))).toISOString().slice(0, 10);
  assert.deepEqual(await page.locator('#chart-optin .table-wrap tbody th').allInnerTexts(), [monday]);
  assert.deepEqual(problems, []);
});

test('access export and erasure with typed confirmation; the ledger still verifies', async () => {
  const { page, problems } = legal;
  await open(legal, 'requests', '&subject=carol-3');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#dsar-export').click()]);
  const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(exported.subjectId, 'carol-3');
  assert.equal(exported.records.length, 1);
  const erase = page.getByRole('button', { name: 'Erase this person' });
  assert.equal(await erase.isDisabled(), true);
  await page.getByLabel(/Type .erase carol-3. to confirm/).fill('erase carol');
  assert.equal(await erase.isDisabled(), true, 'a near miss does not arm the button');
  await page.getByLabel(/Type .erase carol-3. to confirm/).fill('erase carol-3');
  await erase.click();
  await page.locator('#erase-result .verified').waitFor();
  const result = await text(page, '#erase-result');
  assert.match(result, /Shredded/);
  assert.match(result, /Kept as proof/);
  assert.match(await text(page, '#erase-verify'), /still verifies/);
  const history = await call(service.url, 'GET', `/v1/sites/${site.id}/subjects/carol-3/history`, site.admin);
  assert.notEqual(history.status, 200, 'the subject id no longer finds anything');
  // What stays still proves the decision: carol's record verifies in the browser without her id.
  await open(legal, 'records', `&id=${site.records[3].id}`);
  await page.locator('#proof-result.verified').waitFor();
  assert.match(await text(page, 'main .lead'), /subject erased/);
  assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  problems.length = 0;
});

test('ledger health: verify and checkpoints', async () => {
  const { page, problems } = admin;
  await open(admin, 'health');
  await page.locator('#verify-result .verified').waitFor();
  assert.match(await text(page, '#verify-result'), /Intact: \d+ records/);
  await page.locator('#checkpoints table').waitFor();
  const before = await page.locator('#checkpoints tbody tr').count();
  await page.locator('#seal').click();
  await page.waitForFunction((n) => document.querySelectorAll('#checkpoints tbody tr').length === n + 1, before);
  assert.deepEqual(problems, []);
});

test('policies side by side: what changed and whether it was material', async () => {
  const { page, problems } = legal;
  await open(legal, 'policies');
  await page.locator('#policy-diff').waitFor();
  const caption = await text(page, '#policy-diff caption');
  assert.match(caption, /Version 1 beside version 2/);
  assert.match(caption, /version 2 is material/);
  const changed = await page.locator('#policy-diff tr.changed th').allInnerTexts();
  assert.deepEqual(changed.map((t) => t.split('\n')[0].replace(/changed$/, '').trim()), ['en text: title']);
  assert.deepEqual(problems, []);
});

test('admin: issue a key (shown once), list it, revoke it', async () => {
  const { page, problems } = admin;
  await open(admin, 'keys');
  await page.getByLabel('Role').selectOption('check');
  await page.getByLabel('Label').fill('product back end');
  await page.getByRole('button', { name: 'Issue key' }).click();
  const secret = await page.locator('#new-key-secret').inputValue();
  assert.match(secret, /^csk_/);
  assert.equal((await call(service.url, 'GET', `/v1/sites/${site.id}/subjects/alice-1/consent`, secret)).status, 200);
  await page.locator('#key-list tr', { hasText: 'product back end' }).waitFor();
  assert.ok(!(await text(page, '#key-list')).includes(secret), 'the list never shows a secret');
  page.once('dialog', (d) => d.accept());
  await page.locator('#key-list tr', { hasText: 'product back end' }).getByRole('button', { name: /Revoke/ }).click();
  await page.locator('#key-list tr', { hasText: 'product back end' }).filter({ hasNotText: 'active' }).waitFor();
  assert.equal((await call(service.url, 'GET', `/v1/sites/${site.id}/subjects/alice-1/consent`, secret)).status, 401);
  await page.reload();
  await page.locator('#key-list').waitFor();
  assert.equal(await page.locator('#new-key-secret').count(), 0, 'shown once: gone after a reload');
  assert.deepEqual(problems, []);
});

test('admin: site settings are saved through the API', async () => {
  const { page, problems } = admin;
  await open(admin, 'settings');
  await page.getByLabel('Allowed origins').fill('https://shop.example\nhttps://www.shop.example');
  await page.getByLabel('Consent lasts (days)').fill('200');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#settings-result .verified').waitFor();
  const s = (await call(service.url, 'GET', `/v1/sites/${site.id}`, site.admin)).body;
  assert.deepEqual(s.allowedOrigins, ['https://shop.example', 'https://www.shop.example']);
  assert.equal(s.consentMaxAgeDays, 200);
  await page.getByLabel('Consent lasts (days)').fill('99999999');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#settings-result .error').filter({ hasText: /consentMaxAgeDays/i }).waitFor();
  assert.equal((await call(service.url, 'GET', `/v1/sites/${site.id}`, site.admin)).body.consentMaxAgeDays, 200, 'a refused change changes nothing');
  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  problems.length = 0;
});

test('admin: the audit log with its filters', async () => {
  const { page, problems } = admin;
  await open(admin, 'audit');
  await page.locator('#audit-table tbody tr').first().waitFor();
  assert.ok(await page.locator('#audit-table tbody tr').count() > 0);
  await page.getByLabel('Outcome (HTTP status)').fill('201');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/outcome=201/);
  await page.locator('#audit-table tbody tr').first().waitFor();
  const outcomes = await page.locator('#audit-table tbody tr td:nth-child(3)').allInnerTexts();
  assert.ok(outcomes.length > 0 && outcomes.every((o) => o === '201'), outcomes.join(','));
  assert.deepEqual(problems, []);
});

test('keyboard: the skip link and the menu work without a mouse', async () => {
  const { page, problems } = admin;
  await open(admin, 'people');
  await page.locator('.skip').focus();
  assert.ok((await page.locator('.skip').boundingBox()).x >= 0, 'the skip link shows when focused');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  await page.locator('#nav a', { hasText: 'Ledger health' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/console\/health/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'screen-title');
  assert.deepEqual(problems, []);
});

test('at 360 px nothing is wider than the screen', async () => {
  const { page } = legal;
  for (const screen of ['people', 'ledger', 'numbers', 'health', 'policies']) {
    await open(legal, screen);
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${screen} scrolls sideways by ${overflow} px`);
  }
});

test('CSP: the console is served under the strict policy, and a violation would be seen', async () => {
  const r = await fetch(`${service.url}/console/people`);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const { ctx, page, problems } = await openPage(browser);
  await signIn(page, service.url, site.legal);
  assert.deepEqual(problems, []);
  // The watch works: an inline style attribute (what the console never writes) is refused and reported.
  await page.evaluate(() => { const p = document.createElement('p'); p.setAttribute('style', 'color: red'); document.body.append(p); });
  await page.waitForTimeout(200);
  assert.ok(problems.some((p) => /CSP violation: style-src/.test(p)), problems.join('\n'));
  await ctx.close();
});
