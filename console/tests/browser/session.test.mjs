// Signing in and out, session expiry, role limits and CSRF, in Chromium against the real service.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { OPERATOR_KEY, call, launch, openPage, seedSite, signIn, sqlite, startService } from './harness.mjs';

let service;
let browser;
let site;

before(async () => {
  service = await startService();
  browser = await launch();
  site = await seedSite(service.url);
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

test('a wrong key is refused with a message and no session; a legal key signs in and out', async () => {
  const { ctx, page, problems } = await openPage(browser);
  await page.goto(service.url + '/console/people');
  await page.waitForURL(/\/console\/signin$/);
  await page.getByLabel('Site key (legal or admin)').fill('csk_not-a-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signin-error').filter({ hasText: 'not accepted' }).waitFor();
  assert.equal((await ctx.cookies()).length, 0, 'no cookie for a refused key');

  await page.getByLabel('Site key (legal or admin)').fill(site.legal);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signout').waitFor();
  assert.equal(await page.locator('#role').textContent(), 'legal');
  const cookies = await ctx.cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0].httpOnly, true);
  assert.equal(cookies[0].sameSite, 'Strict');
  assert.ok(!cookies[0].value.includes(site.legal), 'the cookie is not the key');
  // Nothing secret in the page's storage or address.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href);
  assert.ok(!stored.includes(site.legal), 'the key is nowhere in storage or the URL');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is not readable by script');

  await page.locator('#signout').click();
  await page.locator('#signin-note').filter({ hasText: 'signed out' }).waitFor();
  // Ended on the server: the old cookie no longer opens a session.
  const old = cookies[0];
  const r = await fetch(service.url + '/console/api/session', { headers: { Cookie: `${old.name}=${old.value}` } });
  assert.equal(r.status, 401);
  // The refused key's 401 (and the session probe's before sign-in) are the only failed loads.
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('a legal session sees no admin screens, and the API refuses them to it', async () => {
  const { ctx, page, problems } = await openPage(browser);
  await signIn(page, service.url, site.legal);
  const nav = await page.locator('#nav').innerText();
  for (const admin of ['Keys', 'Site settings', 'Audit log']) assert.ok(!nav.includes(admin), `${admin} is not offered`);
  await page.goto(`${service.url}/console/keys?site=${site.id}`);
  await page.locator('h1').filter({ hasText: 'Not for this key' }).waitFor();
  const status = await page.evaluate(async (id) => (await fetch(`/v1/sites/${id}/keys`)).status, site.id);
  assert.equal(status, 403, 'the API itself refuses the legal session');
  // A site key's session sees its own site only.
  const other = await seedSite(service.url, 'Another shop');
  const foreign = await page.evaluate(async (id) => (await fetch(`/v1/sites/${id}/consents`)).status, other.id);
  assert.equal(foreign, 404);
  await page.goto(`${service.url}/console/ledger?site=${other.id}`);
  await page.locator('#records').waitFor();
  assert.equal(await page.locator('#site').inputValue(), site.id, 'a foreign site in the address is ignored');
  assert.equal(await page.locator('#site option').count(), 1);
  assert.deepEqual(problems.filter((p) => !/status of 40[34]/.test(p)), []);
  await ctx.close();
});

test('an admin session sees the admin screens', async () => {
  const { ctx, page, problems } = await openPage(browser);
  await signIn(page, service.url, site.admin);
  const nav = await page.locator('#nav').innerText();
  for (const admin of ['Keys', 'Site settings', 'Audit log']) assert.ok(nav.includes(admin), `${admin} is offered`);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('a state-changing request without the CSRF token is refused and changes nothing', async () => {
  const { ctx, page } = await openPage(browser);
  await signIn(page, service.url, site.admin);
  const before = (await call(service.url, 'GET', `/v1/sites/${site.id}/keys`, site.admin)).body.length;
  const outcome = await page.evaluate(async (id) => {
    const post = (headers) => fetch(`/v1/sites/${id}/keys`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"role":"check"}' });
    const without = await post({});
    const wrong = await post({ 'X-CSRF-Token': 'forged' });
    const signOut = await fetch('/console/api/session', { method: 'DELETE' });
    const still = await fetch('/console/api/session');
    return { without: without.status, wrong: wrong.status, signOut: signOut.status, still: still.status };
  }, site.id);
  assert.equal(outcome.without, 403);
  assert.equal(outcome.wrong, 403);
  assert.equal(outcome.signOut, 403, 'sign-out without the token is refused too');
  assert.equal(outcome.still, 200, 'so the session is still there');
  assert.equal((await call(service.url, 'GET', `/v1/sites/${site.id}/keys`, site.admin)).body.length, before, 'no key was issued');
  // The console's own request carries the token and succeeds.
  await page.goto(`${service.url}/console/keys?site=${site.id}`);
  await page.getByLabel('Label').fill('csrf check');
  await page.getByRole('button', { name: 'Issue key' }).click();
  await page.locator('#new-key-secret').waitFor();
  assert.equal((await call(service.url, 'GET', `/v1/sites/${site.id}/keys`, site.admin)).body.length, before + 1);
  await ctx.close();
});

test('an idle session expires: the next action lands on sign-in with a note', async () => {
  const { ctx, page, problems } = await openPage(browser);
  await signIn(page, service.url, site.legal);
  // The newest session is this page's. Idle time passing, without waiting the minute Console:SessionIdle allows at least: the
  // session's idle end moved into the past in the store the service reads on every request
  // (SQLite takes a second writer on the same file; the data folder's lock is the service's own).
  const changed = sqlite(join(service.data, 'sessions.db'),
    'UPDATE console_sessions SET idle_expires_at = created_at WHERE created_at = (SELECT max(created_at) FROM console_sessions); SELECT changes();');
  assert.equal(changed, '1');
  await page.getByRole('link', { name: 'Ledger health' }).click();
  await page.locator('#signin-note').filter({ hasText: 'session has ended' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/console/signin');
  // Signing in again works at once.
  await page.getByLabel('Site key (legal or admin)').fill(site.legal);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signout').waitFor();
  // The 401 that ended it is the expected one; nothing else went wrong.
  assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
  await ctx.close();
});

test('revoking the key ends its console session at the next action', async () => {
  const { ctx, page, problems } = await openPage(browser);
  const key = (await call(service.url, 'POST', `/v1/sites/${site.id}/keys`, site.admin, { role: 'legal', label: 'leaver' })).body;
  await signIn(page, service.url, key.key);
  await page.getByRole('link', { name: 'Policies' }).click();
  await page.locator('#policy-diff').waitFor();
  assert.equal((await call(service.url, 'DELETE', `/v1/sites/${site.id}/keys/${key.id}`, site.admin)).status, 204);
  await page.getByRole('link', { name: 'Numbers' }).click();
  await page.locator('#signin-note').filter({ hasText: 'session has ended' }).waitFor();
  assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
  await ctx.close();
});

test('the operator key sees every site and switches between them', async () => {
  const other = await seedSite(service.url, 'Operator view shop');
  const { ctx, page, problems } = await openPage(browser);
  await signIn(page, service.url, OPERATOR_KEY);
  assert.equal(await page.locator('#role').textContent(), 'operator');
  const sites = await page.locator('#site option').evaluateAll((o) => o.map((x) => x.value));
  assert.ok(sites.includes(site.id) && sites.includes(other.id), sites.join(','));
  await page.locator('#site').selectOption(other.id);
  await page.waitForURL(new RegExp(`site=${other.id}`));
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.locator('#key-list tbody tr').first().waitFor();
  assert.deepEqual(problems, []);
  await ctx.close();
});
