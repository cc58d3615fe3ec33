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
