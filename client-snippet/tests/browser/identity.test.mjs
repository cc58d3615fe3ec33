// Identified users across devices (issue 15 §1) in Chromium: two browser contexts are two devices of one
// signed-in user. Tokens are minted with the README's Node example, as a site's back end would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mintSubjectToken } from '../../../docs/examples/identity/mint-subject-token.mjs';
import { api, context, launch, OPERATOR_KEY, startPages, startService, TRACKER, waitFor } from './harness.mjs';

let service;
let pages;
let browser;
let client;

before(async () => {
  service = await startService();
  pages = await startPages();
  browser = await launch();
  client = api(service.url);
});

after(async () => {
  await browser?.close();
  await pages?.stop();
  await service?.stop();
});

const trackers = { '/a.js': { body: "__ran.push('a')" } };

/** A site and an identity secret, issued through the admin API. */
async function identitySite() {
  const site = await client.createSite({ allowedOrigins: [pages.origin] });
  const r = await fetch(`${service.url}/v1/sites/${site.id}/identity-secrets`, { method: 'POST', headers: { Authorization: 'Bearer ' + site.adminKey } });
  assert.equal(r.status, 201);
  const secret = await r.json();
  const token = (userId, now = Date.now()) => mintSubjectToken({ secretId: secret.id, secret: secret.secret, siteId: site.id, userId, now });
  return { site, token };
}

/** The shop's page for a signed-in visitor: its back end put the user's subject token in the tag. */
const signedInPage = (siteId, token) => pages.add(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script>window.__ran = [];</script>
<script src="${service.url}/v1/sites/${siteId}/consent.js" ${token ? `data-subject-token="${token}"` : ''} async></script>
</head><body><h1>Shop</h1>
<script type="text/plain" data-consent="analytics" src="${TRACKER}/a.js"></script>
</body></html>`);

/** A device: a fresh context that notes whether a banner was ever shown on its pages. */
async function device() {
  const { ctx, seen } = await context(browser, { trackers });
  await ctx.addInitScript(() => {
    new MutationObserver(() => {
      if (document.querySelector('[data-consent-banner]')) window.__bannerSeen = true;
    }).observe(document, { childList: true, subtree: true });
  });
  const p = await ctx.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  return { ctx, p, seen, errors };
}

const visit = async (p, url) => {
  await p.goto(url);
  await p.waitForFunction(() => window.ConsentService);
  return p.evaluate(() => window.ConsentService.ready);
};
const delivered = (p, siteId) => p.waitForFunction((id) => !localStorage.getItem('consent_outbox_' + id), siteId);
const check = async (siteId, subjectId) =>
  (await fetch(`${service.url}/v1/sites/${siteId}/subjects/${subjectId}/consent`, { headers: { Authorization: 'Bearer ' + OPERATOR_KEY } })).json();

test('one user, two devices: decided on A, no banner on B with the same decision; withdrawn on B, A follows at its next page view', async () => {
  const { site, token } = await identitySite();
  const user = 'user-' + Math.random().toString(36).slice(2, 10);

  // Device A: signed in, first visit: the banner (the user has no decision yet), then Accept all.
  const a = await device();
  await visit(a.p, signedInPage(site.id, token(user)));
  await a.p.locator('[data-consent-banner]').getByRole('button', { name: 'Accept all' }).click();
  await delivered(a.p, site.id);
  await waitFor(() => a.p.evaluate(() => window.__ran.includes('a')), 'the analytics tag on A');
  assert.equal((await check(site.id, user)).purposes.analytics.granted, true);
  assert.deepEqual((await client.history(site.id, user)).map((r) => r.method), ['accept_all']);

  // Device B: a new browser, signed in: no banner at any moment, the same decision, the tag runs.
  const b = await device();
  const onB = await visit(b.p, signedInPage(site.id, token(user)));
  assert.equal(onB.purposes.analytics, true);
  assert.equal(onB.method, 'accept_all');
  await waitFor(() => b.p.evaluate(() => window.__ran.includes('a')), 'the analytics tag on B');
  assert.equal(await b.p.evaluate(() => !!window.__bannerSeen), false, 'no banner on B');

  // B withdraws; the withdrawal is the user's.
  await b.p.evaluate(() => window.ConsentService.withdraw());
  await delivered(b.p, site.id);
  assert.equal((await check(site.id, user)).purposes.analytics.granted, false);

  // A's next page view: its cookie still says accept_all, but the user's decision wins before any tag runs.
  const before = a.seen.trackers.length;
  const onA = await visit(a.p, signedInPage(site.id, token(user)));
  assert.equal(onA.purposes.analytics, false);
  assert.equal(onA.method, 'withdraw');
  await a.p.waitForTimeout(400);
  assert.deepEqual(await a.p.evaluate(() => window.__ran), [], 'nothing gated ran on A after the withdrawal');
  assert.deepEqual(a.seen.trackers.slice(before), [], 'no tracker request from A after the withdrawal');
  assert.equal(await a.p.evaluate(() => !!document.querySelector('[data-consent-banner]')), false);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.ctx.close();
  await b.ctx.close();
});

test('identify() after load links the anonymous history and carries its decision to the user; a bad token changes nothing', async () => {
  const { site, token } = await identitySite();
  const user = 'user-' + Math.random().toString(36).slice(2, 10);
  const d = await device();
  await visit(d.p, signedInPage(site.id, null));
  await d.p.locator('[data-consent-banner]').getByRole('button', { name: 'Accept all' }).click();
  await delivered(d.p, site.id);
  const anonymous = await d.p.evaluate(() => window.ConsentService.get().subjectId);

  // An expired token: refused (400), the browser stays anonymous and its later decisions stay its own.
  const expired = token(user, Date.now() - 2 * 3600 * 1000);
  await d.p.evaluate((t) => window.ConsentService.identify(t), expired);
  await d.p.evaluate(() => window.ConsentService.rejectAll());
  await delivered(d.p, site.id);
  assert.deepEqual((await client.history(site.id, anonymous)).map((r) => r.method), ['accept_all', 'reject_all']);
  assert.deepEqual(await client.history(site.id, user), []);

  // Signing in: linked; the anonymous decision (the latest, reject_all) becomes the user's.
  await d.p.evaluate((t) => window.ConsentService.identify(t), token(user));
  assert.deepEqual((await client.history(site.id, user)).map((r) => r.method), ['reject_all']);
  const history = await (await fetch(`${service.url}/v1/sites/${site.id}/subjects/${user}/history`, { headers: { Authorization: 'Bearer ' + OPERATOR_KEY } })).json();
  assert.deepEqual(history.linked.map((l) => l.subjectId), [anonymous]);

  // From now on the page's decisions are the user's.
  await d.p.evaluate(() => window.ConsentService.acceptAll());
  await delivered(d.p, site.id);
  assert.deepEqual((await client.history(site.id, user)).map((r) => r.method), ['reject_all', 'accept_all']);
  assert.equal((await client.history(site.id, anonymous)).length, 2);
  assert.deepEqual(d.errors, []);
  await d.ctx.close();
});
