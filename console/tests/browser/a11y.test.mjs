// Accessibility of every screen by axe-core (WCAG 2.0-2.2 A and AA rules: contrast, labels, names,
// landmarks, table headers), at desktop width and at 360 px, in Chromium against the real service.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launch, openPage, seedSite, signIn, startService } from './harness.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let service;
let browser;
let site;
/** One signed-in admin page per width. */
const pages = {};

before(async () => {
  service = await startService();
  browser = await launch();
  site = await seedSite(service.url);
  for (const width of [1280, 360]) {
    pages[width] = await openPage(browser, { viewport: { width, height: width > 400 ? 900 : 740 } });
    await signIn(pages[width].page, service.url, site.admin);
  }
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

/** axe's violations on the page as it is now (evaluated through the debugger, so the CSP is not loosened). */
async function violations(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
  }));
  return result.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

const screens = (q, id) => ({
  person: [`/console/people?${q}&q=alice-1`, '#timeline li'],
  proof: [`/console/records?${q}&id=${id}`, '#proof-result.verified'],
  ledger: [`/console/ledger?${q}`, '#records'],
  numbers: [`/console/numbers?${q}`, '#reconsent table'],
  requests: [`/console/requests?${q}&subject=bob-2`, '#erasure'],
  health: [`/console/health?${q}`, '#verify-result .verified'],
  policies: [`/console/policies?${q}`, '#policy-diff'],
  keys: [`/console/keys?${q}`, '#key-list table'],
  settings: [`/console/settings?${q}`, '#site-settings'],
  audit: [`/console/audit?${q}`, '#audit-table'],
});

for (const width of [1280, 360]) {
  test(`${width} px: the sign-in screen`, async () => {
    const { ctx, page } = await openPage(browser, { viewport: { width, height: 740 } });
    await page.goto(service.url + '/console/signin');
    await page.locator('form').waitFor();
    assert.deepEqual(await violations(page), []);
    await ctx.close();
  });
  for (const name of Object.keys(screens('', ''))) {
    test(`${width} px: ${name}`, async () => {
      const { page, problems } = pages[width];
      const [path, ready] = screens(`site=${site.id}`, site.records[0].id)[name];
      await page.goto(service.url + path);
      await page.locator(ready).first().waitFor();
      assert.deepEqual(await violations(page), []);
      assert.deepEqual(problems, []);
    });
  }
}

test('the check can fail: an unlabelled field and low-contrast text are found', async () => {
  const { page } = pages[1280];
  await page.evaluate(() => {
    const input = document.createElement('input');
    const faint = document.createElement('p');
    faint.textContent = 'faint';
    faint.style.color = '#bbbbbb';
    document.querySelector('main').append(input, faint);
  });
  const found = (await violations(page)).join('\n');
  assert.match(found, /^label:/m);
  assert.match(found, /^color-contrast:/m);
});
