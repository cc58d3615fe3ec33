// Issue 15 §2 and §3 in Chromium: one decision shared by shop.example.test and blog.example.test
// (the site's cookieDomain), and the cookies and localStorage keys of refused purposes deleted on
// the host and its parent domains. Both names resolve to loopback (--host-resolver-rules); .test is
// not in the Public Suffix List, so example.test is a registrable domain for the browser and for the
// service alike.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launch, page, startPages, startService } from './harness.mjs';

let service;
let pages;
let browser;
let client;
let port;

before(async () => {
  service = await startService();
  pages = await startPages();
  port = new URL(pages.origin).port;
  browser = await launch(['--host-resolver-rules=MAP *.example.test 127.0.0.1, MAP example.test 127.0.0.1']);
  client = api(service.url);
});

after(async () => {
  await browser?.close();
  await pages?.stop();
  await service?.stop();
});

const origin = (host) => `http://${host}:${port}`;
const hosts = ['shop.example.test', 'blog.example.test', 'example.test'];

/** A site whose pages are on every test host; `cookieDomain` as given. */
const site = (settings = {}) => client.createSite({ allowedOrigins: hosts.map(origin), ...settings });

/** A context where the test hosts and the service pass and anything else is refused. */
async function context() {
  const ctx = await browser.newContext();
  await ctx.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname == '127.0.0.1' || hostname.endsWith('example.test') ? route.continue() : route.abort();
  });
  return ctx;
}

/** Opens the snippet's test page of `s` on `host` in `ctx`, once the snippet has booted. */
async function open(ctx, s, host) {
  const p = await ctx.newPage();
  const url = pages.add(page({ service: service.url, siteId: s.id })).replace(pages.origin, origin(host));
  await p.goto(url);
  await p.waitForFunction(() => window.ConsentService);
  return p;
}

const banner = (p) => p.locator('[data-consent-banner]');
const sorted = (list) => [...list].sort();
const jar = async (ctx) => sorted((await ctx.cookies()).map((c) => `${c.name}@${c.domain}`));
/** The first frame has passed and the clean-up after it has run. */
const settled = (p) => p.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(() => setTimeout(r, 50)))));

test('subdomains share one decision under the cookieDomain: decide on shop, no banner on blog, the same decision', async () => {
  const s = await site({ cookieDomain: 'example.test' });
  const ctx = await context();
  const shop = await open(ctx, s, 'shop.example.test');
  await banner(shop).waitFor();
  await shop.evaluate(() => window.ConsentService.set({ analytics: true }));
  const decided = await shop.evaluate(() => window.ConsentService.get());

  const cookie = (await ctx.cookies()).find((c) => c.name == 'consent_' + s.id);
  assert.equal(cookie.domain, '.example.test', 'written for the cookieDomain, not host-only');
  assert.equal(cookie.path, '/');
  assert.equal(cookie.sameSite, 'Lax');

  const blog = await open(ctx, s, 'blog.example.test');
  await settled(blog);
  assert.equal(await banner(blog).count(), 0, 'no banner: the decision made on shop holds');
  assert.deepEqual(await blog.evaluate(() => window.ConsentService.get()), decided);

  // And back: a withdrawal on blog holds on shop at its next page view.
  await blog.evaluate(() => window.ConsentService.withdraw());
  const again = await open(ctx, s, 'shop.example.test');
  const now = await again.evaluate(() => window.ConsentService.get());
  assert.equal(now.method, 'withdraw');
  // The subject id may differ: its write secret is kept per origin (localStorage), so blog's post for
  // shop's subject is refused and the withdrawal moves to a new subject, which the shared cookie names.
  assert.equal(await again.evaluate(() => window.ConsentService.has('analytics')), false);
  assert.deepEqual((await ctx.cookies()).filter((c) => c.name.startsWith('consent_')).map((c) => c.domain), ['.example.test'], 'one cookie');
  await ctx.close();
});

test('without a cookieDomain each host keeps its own decision (the control for the test above)', async () => {
  const s = await site();
  const ctx = await context();
  const shop = await open(ctx, s, 'shop.example.test');
  await shop.evaluate(() => window.ConsentService.acceptAll());
  assert.equal((await ctx.cookies()).find((c) => c.name == 'consent_' + s.id).domain, 'shop.example.test');
  const blog = await open(ctx, s, 'blog.example.test');
  await banner(blog).waitFor();
  assert.equal(await blog.evaluate(() => window.ConsentService.get()), null);
  await ctx.close();
});

/**
 * Tracker-like cookies and storage as real tags leave them (default policy: PostHog ph_*_posthog
 * cookie and key, Google Analytics _ga and _ga_*, Hotjar _hj*): set by a page on the parent domain
 * for Domain=example.test, and by the page on shop for its parent and host-only; plus the site's
 * own cookie and key, which no vendor names.
 */
async function plant(ctx, s) {
  const parent = await open(ctx, s, 'example.test');
  await parent.evaluate(() => {
    document.cookie = '_ga=GA1.parent; Domain=example.test; Path=/';
    document.cookie = '_hjSessionUser_7=parent; Domain=example.test; Path=/';
  });
  await parent.close();
  const shop = await open(ctx, s, 'shop.example.test');
  await shop.evaluate(() => {
    document.cookie = '_ga_ABC123=GS1.host; Path=/';
    document.cookie = 'ph_phc_key_posthog=%7B%7D; Domain=example.test; Path=/';
    document.cookie = '_hjSession_7=host; Path=/';
    document.cookie = 'session=own; Path=/';
    localStorage.setItem('ph_phc_key_posthog', '{}');
    localStorage.setItem('_hjSessionUser_7', '{}');
    localStorage.setItem('_ga', 'a cookie pattern: not a storage key of any vendor');
    localStorage.setItem('cart', 'own');
  });
  return shop;
}

const keys = async (p) => sorted(await p.evaluate(() => Object.keys(localStorage)));

test('refusing analytics deletes its vendors\' cookies on the host and the parent domain, and its keys; marketing, granted, keeps its own', async () => {
  const s = await site({ cookieDomain: 'example.test' });
  const ctx = await context();
  const shop = await plant(ctx, s);
  assert.deepEqual(await jar(ctx), sorted(['_ga@.example.test', '_ga_ABC123@shop.example.test', '_hjSessionUser_7@.example.test',
    '_hjSession_7@shop.example.test', 'ph_phc_key_posthog@.example.test', 'session@shop.example.test']));

  await shop.evaluate(() => window.ConsentService.set({ analytics: false, marketing: true }));

  assert.deepEqual(await jar(ctx), sorted([`consent_${s.id}@.example.test`, '_hjSessionUser_7@.example.test',
    '_hjSession_7@shop.example.test', 'session@shop.example.test']));
  assert.deepEqual((await keys(shop)).filter((k) => !/^consent_(outbox|receipt)_/.test(k)), sorted(['_ga', '_hjSessionUser_7', 'cart', `consent_secret_${s.id}`]),
    'storage: the PostHog key gone, the rest kept');

  // Withdrawing marketing too: Hotjar's cookies and key go; the site's own and the decision stay.
  await shop.evaluate(() => window.ConsentService.withdraw());
  assert.deepEqual(await jar(ctx), sorted([`consent_${s.id}@.example.test`, 'session@shop.example.test']));
  const left = (await keys(shop)).filter((k) => !/^consent_(outbox|receipt)_/.test(k));
  assert.deepEqual(left, sorted(['_ga', 'cart', `consent_secret_${s.id}`]));
  await ctx.close();
});

test('reject all from the banner deletes what tags left before; a withdrawal on shop cleans blog at its next page view', async () => {
  const s = await site({ cookieDomain: 'example.test' });
  const ctx = await context();
  // blog's own host-only cookie and key, which a page on shop can neither see nor delete.
  const blog = await open(ctx, s, 'blog.example.test');
  await blog.evaluate(() => {
    document.cookie = '_ga_BLOG=host; Path=/';
    localStorage.setItem('ph_phc_key_posthog', '{}');
  });
  await blog.close();
  const shop = await plant(ctx, s);
  await banner(shop).waitFor();
  await shop.locator('[data-consent-banner] [data-consent-action=reject_all]').click();
  assert.deepEqual(await jar(ctx), sorted([`consent_${s.id}@.example.test`, '_ga_BLOG@blog.example.test', 'session@shop.example.test']));
  assert.deepEqual((await keys(shop)).filter((k) => !k.startsWith('consent_')), ['_ga', 'cart']);

  const next = await open(ctx, s, 'blog.example.test');
  await settled(next);
  assert.equal(await banner(next).count(), 0);
  assert.deepEqual(await jar(ctx), sorted([`consent_${s.id}@.example.test`, 'session@shop.example.test']));
  assert.deepEqual((await keys(next)).filter((k) => !k.startsWith('consent_')), []);
  await ctx.close();
});

test('accept all deletes nothing', async () => {
  const s = await site({ cookieDomain: 'example.test' });
  const ctx = await context();
  const shop = await plant(ctx, s);
  const before = await jar(ctx);
  await shop.evaluate(() => window.ConsentService.acceptAll());
  await settled(shop);
  assert.deepEqual(await jar(ctx), sorted([...before, `consent_${s.id}@.example.test`]));
  assert.deepEqual((await keys(shop)).filter((k) => !k.startsWith('consent_')), ['_ga', '_hjSessionUser_7', 'cart', 'ph_phc_key_posthog']);
  await ctx.close();
});
