// The in-browser proof check on a real record passes, and fails, naming where, once that record
// is edited in the database file (the service stopped, the row changed with sqlite3, restarted on
// the same data folder).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, seedSite, signIn, sqlite, startService } from './harness.mjs';

let service;
let browser;

before(async () => {
  service = await startService();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

test('a record edited in the database file shows as broken, and where', async () => {
  const site = await seedSite(service.url);
  const record = site.records[0];
  let { ctx, page, problems } = await openPage(browser);
  await signIn(page, service.url, site.legal);
  await page.goto(`${service.url}/console/records?site=${site.id}&id=${record.id}`);
  await page.locator('#proof-result.verified').waitFor();
  await ctx.close();

  const data = service.data;
  await service.stop({ keep: true });
  const db = join(data, 'consent.db');
  assert.equal(sqlite(db, `SELECT purposes FROM consents WHERE id = '${record.id}';`).includes('"marketing":false'), true);
  sqlite(db, `UPDATE consents SET purposes = replace(purposes, '"marketing":false', '"marketing":true') WHERE id = '${record.id}';`);
  service = await startService({ data });

  ({ ctx, page, problems } = await openPage(browser));
  await signIn(page, service.url, site.legal);
  await page.goto(`${service.url}/console/records?site=${site.id}&id=${record.id}`);
  await page.locator('#proof-result.failed').waitFor();
  assert.match(await page.locator('#proof-result').innerText(), /^Broken: .*record hash/);
  assert.match(await page.locator('#proof-steps li.broken').first().innerText(), /record hash: SHA-256 of the canonical record is [0-9a-f]{64}, the receipt says/);
  // The other records still verify, and the health screen names the break.
  await page.goto(`${service.url}/console/records?site=${site.id}&id=${site.records[1].id}`);
  await page.locator('#proof-result.verified').waitFor();
  await page.goto(`${service.url}/console/health?site=${site.id}`);
  await page.locator('#verify-result .failed').waitFor();
  assert.match(await page.locator('#last-break').innerText(), new RegExp(record.id));
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('too many failed sign-ins: the page says to wait (429), even for a right key', async () => {
  const site = await seedSite(service.url, 'Rate limit shop');
  const { ctx, page, problems } = await openPage(browser);
  await page.goto(service.url + '/console/signin');
  const key = page.getByLabel('Site key (legal or admin)');
  let message = '';
  for (let i = 0; i < 15 && !/Too many attempts/.test(message); i++) {
    await key.fill(`csk_wrong-${i}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error:not(:empty)').waitFor();
    message = await page.locator('#signin-error').innerText();
    await page.evaluate(() => { document.getElementById('signin-error').textContent = ''; });
  }
  assert.match(message, /Too many attempts/);
  await key.fill(site.legal);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signin-error').filter({ hasText: 'Too many attempts' }).waitFor();
  assert.equal((await ctx.cookies()).length, 0);
  assert.deepEqual(problems.filter((p) => !/status of 429/.test(p)), []);
  await ctx.close();
});
