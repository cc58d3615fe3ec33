// The snippet in Debian's Chromium against the real service on loopback. Each test has its own
// site and a fresh browser context; test pages come from another origin, as on a real website.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, context, launch, OPERATOR_KEY, page, startPages, startService, TRACKER, waitFor } from './harness.mjs';

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

/** Tracker scripts note that they ran, in order, and what Consent Mode said when they did. */
const trackers = {
  '/a.js': { body: "__ran.push('a'); window.__consentAtA = JSON.stringify(dataLayer.map((e) => [...e]));", delay: 300 },
  '/c.js': { body: "__ran.push('c')" },
  '/m.js': { body: "__ran.push('m')" },
  '/late.js': { body: "__ran.push('late')" },
  '/frame.html': { body: '<p>ad frame</p>', type: 'text/html' },
  '/late-frame.html': { body: '<p>late frame</p>', type: 'text/html' },
};

const gatedTags = `
<script type="text/plain" data-consent="analytics" src="${TRACKER}/a.js"></script>
<script type="text/plain" data-consent="analytics">__ran.push('b')</script>
<script type="text/plain" data-consent="analytics" src="${TRACKER}/c.js"></script>
<script type="text/plain" data-consent="analytics marketing" src="${TRACKER}/m.js"></script>
<iframe id="ad" data-consent="marketing" data-src="${TRACKER}/frame.html" title="ad"></iframe>`;

const siteOptions = () => ({ allowedOrigins: [pages.origin] });

/** Opens a test page of a new site (or `site`) in a fresh context. */
async function open({ site, lang, body = gatedTags, gpc, contextOptions, siteSettings } = {}) {
  site ??= await client.createSite({ ...siteOptions(), ...siteSettings });
  const { ctx, seen } = await context(browser, { trackers, gpc, ...contextOptions });
  const p = await ctx.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  const url = pages.add(page({ service: service.url, siteId: site.id, lang, body }));
  await p.goto(url);
  await p.waitForFunction(() => window.ConsentService);
  return { site, ctx, p, seen, url, errors };
}

const banner = (p) => p.locator('[data-consent-banner]');
const prefs = (p) => p.locator('[data-consent-preferences]');
const ran = (p) => p.evaluate(() => window.__ran);
const subject = (p) => p.evaluate(() => window.ConsentService.get().subjectId);
/** Resolves once the outbox is empty: every decision reached the service. */
const delivered = (p, siteId) => p.waitForFunction((id) => !localStorage.getItem('consent_outbox_' + id), siteId);
const consentCalls = (p) => p.evaluate(() => window.dataLayer.filter((e) => e[0] == 'consent').map((e) => [...e]));
const settle = (p) => p.waitForTimeout(400);

test('first visit: an accessible banner, accept and reject alike, nothing gated runs, no tracker is contacted', async () => {
  const { p, ctx, seen, errors } = await open();
  const dialog = p.getByRole('dialog', { name: 'We value your privacy' });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute('data-consent-banner'), '');
  assert.equal(await dialog.getAttribute('aria-describedby'), 'cs-d');
  assert.match(await p.locator('#cs-d').textContent(), /We use cookies/);
  // Shown to automated browsers too: nothing hides it from a webdriver.
  assert.equal(await p.evaluate(() => navigator.webdriver), true);

  const accept = dialog.getByRole('button', { name: 'Accept all' });
  const reject = dialog.getByRole('button', { name: 'Reject all' });
  await dialog.getByRole('button', { name: 'Preferences' }).waitFor();
  assert.equal(await accept.getAttribute('data-consent-action'), 'accept_all');
  assert.equal(await reject.getAttribute('data-consent-action'), 'reject_all');
  // Same prominence (EDPB 2023): same element, class, size, colours and type.
  const look = (l) => l.evaluate((e) => {
    const s = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    return [e.tagName, e.className, Math.round(r.width), Math.round(r.height), s.backgroundColor, s.color, s.fontSize, s.fontWeight, s.borderRadius];
  });
  assert.deepEqual(await look(accept), await look(reject));
  // Focus moved into the banner.
  assert.equal(await p.evaluate(() => !!document.activeElement.closest('[data-consent-banner]')), true);

  await settle(p);
  assert.deepEqual(await ran(p), []);
  assert.deepEqual(seen.trackers, [], 'no request to a tracker before consent');
  assert.equal(await p.locator('#ad').getAttribute('src'), null);
  assert.equal(await p.evaluate(() => window.ConsentService.get()), null);
  assert.equal(await p.evaluate(() => window.ConsentService.has('analytics')), false);
  assert.equal(await p.evaluate(() => window.ConsentService.has('necessary')), true);
  assert.deepEqual(seen.blocked, []);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('reject all: nothing runs, and the record has every optional purpose refused', async () => {
  const { site, p, ctx, seen, url } = await open();
  await banner(p).getByRole('button', { name: 'Reject all' }).click();
  await banner(p).waitFor({ state: 'detached' });
  await delivered(p, site.id);

  const records = await client.history(site.id, await subject(p));
  assert.equal(records.length, 1);
  assert.equal(records[0].method, 'reject_all');
  assert.deepEqual(records[0].purposes, { necessary: true, analytics: false, marketing: false, model_improvement: false });
  assert.equal(records[0].policyVersion, 1);
  assert.equal(records[0].source.url, url);
  assert.equal(records[0].source.locale, 'en');

  const cookie = (await ctx.cookies()).find((c) => c.name == 'consent_' + site.id);
  assert.ok(cookie, 'the decision is kept in a first-party cookie');
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');
  // Every optional purpose refused: asked again after refusalReaskDays (182), not 395.
  assert.ok(Math.abs(cookie.expires - (Date.now() / 1000 + 182 * 86400)) < 120);
  assert.deepEqual(JSON.parse(Buffer.from(cookie.value, 'base64').toString()).p, records[0].purposes);

  await p.reload();
  await p.waitForFunction(() => window.ConsentService);
  await settle(p);
  assert.equal(await banner(p).count(), 0, 'the refusal is remembered');
  assert.deepEqual(await ran(p), []);
  assert.deepEqual(seen.trackers, []);
  assert.equal((await client.history(site.id, await subject(p))).length, 1);
  await ctx.close();
});

test('accept all: gated scripts run in document order, the iframe loads, and a reload remembers', async () => {
  const { site, p, ctx, seen } = await open();
  await banner(p).getByRole('button', { name: 'Accept all' }).click();
  await p.waitForFunction(() => window.__ran.length == 4);
  // a.js answers 300 ms late, yet the inline script after it and c.js wait for it.
  assert.deepEqual(await ran(p), ['a', 'b', 'c', 'm']);
  assert.equal(await p.locator('#ad').getAttribute('src'), `${TRACKER}/frame.html`);
  await delivered(p, site.id);
  const records = await client.history(site.id, await subject(p));
  assert.equal(records.length, 1);
  assert.equal(records[0].method, 'accept_all');
  assert.deepEqual(records[0].purposes, { necessary: true, analytics: true, marketing: true, model_improvement: true });
  const cookie = (await ctx.cookies()).find((c) => c.name == 'consent_' + site.id);
  assert.ok(Math.abs(cookie.expires - (Date.now() / 1000 + 395 * 86400)) < 120, 'a grant lives consentMaxAgeDays');

  seen.trackers.length = 0;
  await p.reload();
  await p.waitForFunction(() => window.__ran.length == 4);
  assert.deepEqual(await ran(p), ['a', 'b', 'c', 'm']);
  assert.equal(await banner(p).count(), 0);
  assert.deepEqual(seen.trackers.sort(), ['/a.js', '/c.js', '/frame.html', '/m.js']);
  assert.equal((await client.history(site.id, await subject(p))).length, 1, 'a reload records nothing');
  await ctx.close();
});

test('a tag that needs two purposes waits for both', async () => {
  const { p, ctx, seen } = await open();
  await p.evaluate(() => window.ConsentService.set({ analytics: true }));
  await p.waitForFunction(() => window.__ran.length == 3);
  await settle(p);
  assert.deepEqual(await ran(p), ['a', 'b', 'c']);
  assert.equal(seen.trackers.includes('/m.js'), false);
  assert.equal(seen.trackers.includes('/frame.html'), false);
  await p.evaluate(() => window.ConsentService.set({ marketing: true }));
  await p.waitForFunction(() => window.__ran.length == 4);
  assert.equal(await p.locator('#ad').getAttribute('src'), `${TRACKER}/frame.html`);
  await ctx.close();
});

test('a new material policy version brings the banner back; a wording change does not', async () => {
  const { site, p, ctx, seen } = await open();
  await banner(p).getByRole('button', { name: 'Accept all' }).click();
  await delivered(p, site.id);

  await client.publish(site, (policy) => { policy.texts.en.title = 'Your privacy choices'; });
  await p.reload();
  await p.waitForFunction(() => window.__ran.length == 4);
  assert.equal(await banner(p).count(), 0, 'wording alone is not material');
  assert.equal(await p.evaluate(() => window.ConsentService.get().needsReconsent), false);

  const v3 = await client.publish(site, (policy) => {
    policy.texts.en.title = 'Our new partners';
    policy.purposes[1].vendors.push({ name: 'Plausible' });
  });
  assert.equal(v3.material, true);
  seen.trackers.length = 0;
  await p.reload();
  await banner(p).waitFor();
  assert.equal(await banner(p).getByRole('heading').textContent(), 'Our new partners');
  await settle(p);
  assert.deepEqual(await ran(p), [], 'a stale consent releases nothing');
  assert.deepEqual(seen.trackers, []);
  assert.equal(await p.evaluate(() => window.ConsentService.get().needsReconsent), true);
  assert.equal(await p.evaluate(() => window.ConsentService.has('analytics')), false);

  // The preferences start from the visitor's earlier choices.
  await banner(p).getByRole('button', { name: 'Preferences' }).click();
  assert.equal(await p.locator('input[data-consent-purpose=analytics]').isChecked(), true);
  await p.locator('input[data-consent-purpose=marketing]').uncheck();
  await prefs(p).getByRole('button', { name: 'Save choices' }).click();
  await delivered(p, site.id);
  const records = await client.history(site.id, await subject(p));
  assert.deepEqual(records.map((r) => [r.policyVersion, r.method]), [[1, 'accept_all'], [3, 'custom']]);
  assert.deepEqual(records[1].purposes, { necessary: true, analytics: true, marketing: false, model_improvement: true });
  await ctx.close();
});

test('tags added after load are gated too, scripts and iframes', async () => {
  const { p, ctx, seen } = await open({ body: '' });
  const addLate = (n) => p.evaluate(([tracker, n]) => {
    const s = document.createElement('script');
    s.type = 'text/plain';
    s.dataset.consent = 'analytics';
    s.src = tracker + '/late.js?' + n;
    document.body.append(s);
    const f = document.createElement('iframe');
    f.dataset.consent = 'marketing';
    f.dataset.src = tracker + '/late-frame.html?' + n;
    f.id = 'late' + n;
    document.body.append(f);
  }, [TRACKER, n]);

  await addLate(1);
  await settle(p);
  assert.deepEqual(seen.trackers, [], 'a tag added before consent waits');
  assert.deepEqual(await ran(p), []);

  await banner(p).getByRole('button', { name: 'Accept all' }).click();
  await p.waitForFunction(() => window.__ran.length == 1);
  assert.equal(await p.locator('#late1').getAttribute('src'), `${TRACKER}/late-frame.html?1`);

  await addLate(2);
  await p.waitForFunction(() => window.__ran.length == 2);
  await p.waitForFunction(() => document.getElementById('late2').src.endsWith('late-frame.html?2'));
  assert.deepEqual(seen.trackers.filter((t) => t == '/late.js').length, 2);
  await ctx.close();
});

test('keyboard only: reach, open, tick, save; Esc goes back; focus returns; focus is visible', async () => {
  const { site, p, ctx } = await open();
  await banner(p).waitFor();
  const focused = () => p.evaluate(() => {
    const e = document.activeElement;
    return e.id == 'settings' ? 'footer link' : e.getAttribute('data-consent-action') || e.getAttribute('data-consent-purpose') || e.tagName;
  });
  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'accept_all');
  assert.equal(await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'solid', 'visible focus');
  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'reject_all');
  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'preferences');
  await p.keyboard.press('Enter');

  const dialog = p.getByRole('dialog', { name: 'Preferences' });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute('aria-modal'), 'true');
  assert.equal(await p.evaluate(() => !!document.activeElement.closest('[data-consent-preferences]')), true, 'focus moved in');
  // Esc goes back to the banner (no decision yet), onto the button that opened the preferences.
  await p.keyboard.press('Escape');
  await banner(p).waitFor();
  assert.equal(await prefs(p).count(), 0);
  assert.equal(await focused(), 'preferences');
  await p.keyboard.press('Enter');
  await dialog.waitFor();

  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'analytics', 'the required purpose is not a stop: it cannot be changed');
  await p.keyboard.press('Space');
  // Focus stays inside the modal: Shift+Tab from the first control wraps to the last.
  await p.keyboard.press('Shift+Tab');
  assert.equal(await focused(), 'save');
  await p.keyboard.press('Tab');
  assert.equal(await focused(), 'analytics');
  await p.keyboard.press('Shift+Tab');
  await p.keyboard.press('Enter');
  await dialog.waitFor({ state: 'detached' });
  await p.waitForFunction(() => window.__ran.length == 3);
  await delivered(p, site.id);
  const [record] = await client.history(site.id, await subject(p));
  assert.equal(record.method, 'custom');
  assert.deepEqual(record.purposes, { necessary: true, analytics: true, marketing: false, model_improvement: false });

  // Reopen from the footer link; Esc closes (a decision exists) and focus returns to the link.
  await p.focus('#settings');
  await p.keyboard.press('Enter');
  await dialog.waitFor();
  assert.equal(await p.locator('input[data-consent-purpose=analytics]').isChecked(), true, 'the current choice is shown');
  await p.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await focused(), 'footer link');
  await ctx.close();
});

test('the preferences list every purpose with its vendors: required on and fixed, optional off', async () => {
  const site = await client.createSite(siteOptions());
  await client.publish(site, (policy) => { policy.privacyPolicyUrl = 'https://shop.example/privacy'; });
  const { p, ctx } = await open({ site });
  await p.locator('#settings').click();
  const dialog = p.getByRole('dialog', { name: 'Preferences' });
  await dialog.waitFor();
  const boxes = await p.locator('input[data-consent-purpose]').evaluateAll((all) =>
    all.map((b) => [b.dataset.consentPurpose, b.checked, b.disabled, b.labels[0].textContent]));
  assert.deepEqual(boxes, [
    ['necessary', true, true, 'Necessary'],
    ['analytics', false, false, 'Analytics'],
    ['marketing', false, false, 'Marketing'],
    ['model_improvement', false, false, 'Model improvement'],
  ]);
  const text = await dialog.textContent();
  for (const vendor of ['PostHog', 'Google Analytics', 'Sentry', 'Axiom', 'Hotjar', 'Google Ads', '_gcl_*']) {
    assert.ok(text.includes(vendor), vendor);
  }
  assert.equal(await p.getByRole('checkbox', { name: 'Analytics' }).getAttribute('aria-describedby'), 'cs-analytics-d');
  // The banner behind links the privacy policy.
  await p.keyboard.press('Escape');
  await banner(p).waitFor();
  assert.equal(await banner(p).getByRole('link').getAttribute('href'), 'https://shop.example/privacy');
  await ctx.close();
});

test('texts follow the page language, with the site default as fallback', async () => {
  const site = await client.createSite({ ...siteOptions(), defaultLocale: 'de' });
  const german = await open({ site, lang: 'de-AT' });
  await german.p.getByRole('dialog', { name: 'Ihre Privatsphäre ist uns wichtig' }).waitFor();
  assert.equal(await german.p.locator('#cs-root').getAttribute('lang'), 'de');
  await german.p.getByRole('button', { name: 'Alle ablehnen' }).waitFor();
  await german.ctx.close();

  const french = await open({ site, lang: 'fr' });
  await french.p.getByRole('dialog', { name: 'Ihre Privatsphäre ist uns wichtig' }).waitFor();
  await french.ctx.close();

  const english = await open({ site, lang: 'en-GB' });
  await english.p.getByRole('dialog', { name: 'We value your privacy' }).waitFor();
  await english.p.getByRole('button', { name: 'Accept all' }).click();
  await delivered(english.p, site.id);
  assert.equal((await client.history(site.id, await subject(english.p)))[0].source.locale, 'en');
  await english.ctx.close();
});

test('reduced motion is respected', async () => {
  const moving = await open();
  await banner(moving.p).waitFor();
  assert.equal(await banner(moving.p).evaluate((e) => getComputedStyle(e).animationName), 'cs');
  await moving.ctx.close();
  const still = await open({ contextOptions: { reducedMotion: 'reduce' } });
  await banner(still.p).waitFor();
  assert.equal(await banner(still.p).evaluate((e) => getComputedStyle(e).animationName), 'none');
  await still.ctx.close();
});

test('GPC on a ccpa site: marketing off without a question, recorded as gpc, shown as honoured', async () => {
  const { site, p, ctx, seen } = await open({ gpc: true, siteSettings: { jurisdictionMode: 'ccpa' } });
  await delivered(p, site.id);
  await settle(p);
  assert.equal(await banner(p).count(), 0, 'no banner for the GPC decision');
  const [record] = await client.history(site.id, await subject(p));
  assert.equal(record.method, 'gpc');
  assert.equal(record.source.jurisdiction, 'ccpa');
  assert.deepEqual(record.purposes, { necessary: true, analytics: false, marketing: false, model_improvement: false });
  assert.deepEqual(seen.trackers, []);

  await p.locator('#settings').click();
  await prefs(p).getByText('Opt-Out Request Honored').waitFor();
  const marketing = p.locator('input[data-consent-purpose=marketing]');
  assert.equal(await marketing.isChecked(), false);
  assert.equal(await marketing.isDisabled(), true);
  // Accept all still cannot turn marketing on: the signal wins, and the record says why.
  await prefs(p).getByRole('button', { name: 'Accept all' }).click();
  await p.waitForFunction(() => window.__ran.length == 3);
  await delivered(p, site.id);
  const records = await client.history(site.id, await subject(p));
  assert.equal(records[1].method, 'gpc');
  assert.deepEqual(records[1].purposes, { necessary: true, analytics: true, marketing: false, model_improvement: true });
  await settle(p);
  assert.equal(seen.trackers.includes('/m.js'), false);
  assert.equal(seen.trackers.includes('/frame.html'), false);
  const last = (await consentCalls(p)).at(-1);
  assert.deepEqual(last[2], { ad_storage: 'denied', analytics_storage: 'granted', ad_user_data: 'denied', ad_personalization: 'denied' });
  await ctx.close();
});

test('GPC beats an earlier opt-in to marketing on the next visit', async () => {
  const site = await client.createSite({ ...siteOptions(), jurisdictionMode: 'ccpa' });
  const first = await open({ site });
  await banner(first.p).getByRole('button', { name: 'Accept all' }).click();
  await delivered(first.p, site.id);
  const id = await subject(first.p);
  const state = await first.ctx.storageState();
  await first.ctx.close();

  const second = await open({ site, gpc: true, contextOptions: { storageState: state } });
  await delivered(second.p, site.id);
  await second.p.waitForFunction(() => window.__ran.length == 3);
  const records = await client.history(site.id, id);
  assert.deepEqual(records.map((r) => r.method), ['accept_all', 'gpc']);
  assert.deepEqual(records[1].purposes, { necessary: true, analytics: true, marketing: false, model_improvement: true });
  await settle(second.p);
  assert.deepEqual(await ran(second.p), ['a', 'b', 'c']);
  await second.ctx.close();
});

test('GPC does not decide on a gdpr site, and auto resolves from the visitor country', async () => {
  const gdpr = await open({ gpc: true });
  await banner(gdpr.p).waitFor();
  await gdpr.ctx.close();

  // auto: the service resolves it from the CDN country header (here added to the script request).
  const site = await client.createSite({ ...siteOptions(), jurisdictionMode: 'auto' });
  const { ctx, seen } = await context(browser, { trackers, gpc: true });
  await ctx.route(`${service.url}/v1/sites/${site.id}/consent.js`, (route) =>
    route.continue({ headers: { ...route.request().headers(), 'cf-ipcountry': 'US' } }));
  const p = await ctx.newPage();
  await p.goto(pages.add(page({ service: service.url, siteId: site.id, body: gatedTags })));
  await delivered(p, site.id);
  await p.waitForFunction(() => window.ConsentService && window.ConsentService.get());
  const [record] = await client.history(site.id, await subject(p));
  assert.equal(record.method, 'gpc');
  assert.equal(await banner(p).count(), 0);
  assert.deepEqual(seen.trackers, []);
  await ctx.close();
});

test('Consent Mode v2: default denied before any tag, an update on every decision and on load', async () => {
  const { p, ctx } = await open();
  const denied = { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' };
  assert.deepEqual(await consentCalls(p), [['consent', 'default', { ...denied, wait_for_update: 500 }]]);
  assert.equal(await p.evaluate(() => typeof window.gtag), 'function');

  await p.evaluate(() => window.ConsentService.set({ analytics: true }));
  await p.waitForFunction(() => window.__consentAtA);
  // When the first gated tag ran, the default and the update were already there, in that order.
  const atA = JSON.parse(await p.evaluate(() => window.__consentAtA));
  assert.deepEqual(atA.map((e) => e[1]), ['default', 'update']);
  assert.deepEqual(atA[1][2], { ...denied, analytics_storage: 'granted' });

  await p.evaluate(() => window.ConsentService.acceptAll());
  assert.deepEqual((await consentCalls(p)).at(-1)[2], { ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted' });

  await p.reload();
  await p.waitForFunction(() => window.ConsentService);
  const onLoad = await consentCalls(p);
  assert.deepEqual(onLoad.map((e) => e[1]), ['default', 'update'], 'a stored decision is signalled on load');
  assert.equal(onLoad[1][2].ad_storage, 'granted');

  await p.evaluate(() => window.ConsentService.withdraw());
  assert.deepEqual((await consentCalls(p)).at(-1)[2], denied);
  await ctx.close();
});

test('a post that fails is kept, retried with backoff on the page, and after a reload', async () => {
  const { site, p, ctx } = await open();
  const consents = `${service.url}/v1/sites/${site.id}/consents`;
  let attempts = 0;
  await p.route(consents, (route) => {
    attempts++;
    return route.abort('connectionrefused');
  });
  await banner(p).getByRole('button', { name: 'Reject all' }).click();
  await waitFor(() => attempts >= 1, 'the first post');
  const id = await subject(p);
  const queued = JSON.parse(await p.evaluate((s) => localStorage.getItem('consent_outbox_' + s), site.id));
  assert.equal(queued.length, 1);
  assert.equal(queued[0].b.method, 'reject_all');
  assert.deepEqual(await client.history(site.id, id), []);

  // The backoff retries on the page: 1 s after the first failure.
  await waitFor(() => attempts >= 2, 'a retry', 5000);
  await p.unroute(consents);
  await delivered(p, site.id);
  const records = await client.history(site.id, id);
  assert.equal(records.length, 1);
  assert.equal(records[0].method, 'reject_all');

  // A failure the page cannot see past (answer lost after the service recorded it), then a reload.
  await p.route(consents, async (route) => {
    await route.fetch();
    return route.fulfill({ status: 503, body: '' });
  });
  await p.evaluate(() => window.ConsentService.set({ analytics: true }));
  await waitFor(async () => (await client.history(site.id, id)).length == 2, 'the post to arrive');
  assert.equal(await p.evaluate((s) => JSON.parse(localStorage.getItem('consent_outbox_' + s)).length, site.id), 1);
  await p.unroute(consents);
  await p.reload();
  await delivered(p, site.id);
  const after = await client.history(site.id, id);
  assert.deepEqual(after.map((r) => r.method), ['reject_all', 'custom'], 'the retry carries the same idempotency key: no duplicate');
  await ctx.close();
});

/** A post as a stranger makes it: from node, no Origin, no cookie, no key. */
const forge = (siteId, body) => fetch(`${service.url}/v1/sites/${siteId}/consents`, {
  method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ policyVersion: 1, ...body }),
}).then(async (r) => ({ status: r.status, body: await r.json() }));
const check = (siteId, id) => fetch(`${service.url}/v1/sites/${siteId}/subjects/${id}/consent`, { headers: { Authorization: 'Bearer ' + OPERATOR_KEY } })
  .then((r) => r.json());
const kept = (p, siteId) => p.evaluate((s) => localStorage.getItem('consent_secret_' + s), siteId);

test('write secret: the browser keeps it beside the id and sends it; the id alone changes nothing', async () => {
  const { site, p, ctx } = await open();
  const posted = [];
  await p.route(`${service.url}/v1/sites/${site.id}/consents`, (route) => (posted.push(JSON.parse(route.request().postData())), route.continue()));
  await banner(p).getByRole('button', { name: 'Accept all' }).click();
  await delivered(p, site.id);
  const id = await subject(p);
  const [keptId, secret] = (await kept(p, site.id)).split(' ');
  assert.equal(keptId, id);
  assert.match(secret, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(posted[0].subjectId, id);
  assert.equal(posted[0].subjectSecret, secret);
  // Not in the cookie the site's servers read.
  const cookie = (await ctx.cookies()).find((c) => c.name == 'consent_' + site.id);
  assert.ok(!Buffer.from(cookie.value, 'base64').toString().includes(secret) && !cookie.value.includes(secret));
  const before = await check(site.id, id);
  assert.equal(before.purposes.analytics.granted, true);

  // A stranger who knows the id: refused, with or without a secret of its own.
  for (const forged of [{ subjectId: id, method: 'withdraw' }, { subjectId: id, method: 'withdraw', subjectSecret: 'Xy3_kQ9-vL2mN7pR4sT8wZ' }]) {
    const answer = await forge(site.id, forged);
    assert.equal(answer.status, 403);
    assert.equal(answer.body.type, 'urn:consentservice:problem:subject-secret');
  }
  assert.deepEqual(await check(site.id, id), before, 'the check answers as before');
  assert.deepEqual((await client.history(site.id, id)).map((r) => r.method), ['accept_all']);

  // The browser's own later change works, for the same subject, and its retry replays nothing twice.
  await p.evaluate(() => window.ConsentService.withdraw());
  await delivered(p, site.id);
  assert.equal(await subject(p), id);
  assert.deepEqual((await client.history(site.id, id)).map((r) => r.method), ['accept_all', 'withdraw']);
  assert.equal((await check(site.id, id)).purposes.analytics.granted, false);
  assert.equal(posted[1].subjectSecret, secret);
  assert.ok(!service.log().includes(secret), 'the secret is not in the service log');
  await ctx.close();
});

test('write secret: an id from before write secrets keeps its chain; an id claimed by someone else moves to a new one', async () => {
  const site = await client.createSite(siteOptions());
  const cookieFor = (s) => ({
    name: 'consent_' + site.id, url: pages.origin,
    value: Buffer.from(JSON.stringify({ s, v: 1, p: { necessary: true, analytics: false, marketing: false, model_improvement: false }, m: 'reject_all', t: Date.now() })).toString('base64'),
  });
  const mint = () => 'sub_' + Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');

  // Recorded before write secrets: the service holds the id without a secret (as a back end with a key writes it).
  const old = mint();
  const admin = await fetch(`${service.url}/v1/sites/${site.id}/consents`, {
    method: 'POST', headers: { Authorization: 'Bearer ' + site.adminKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ subjectId: old, policyVersion: 1, method: 'reject_all' }),
  });
  assert.equal(admin.status, 201);
  const first = await open({ site, contextOptions: {} });
  await first.ctx.addCookies([cookieFor(old)]);
  await first.p.reload();
  await first.p.waitForFunction(() => window.ConsentService);
  await first.p.evaluate(() => window.ConsentService.set({ analytics: true }));
  await delivered(first.p, site.id);
  assert.equal(await subject(first.p), old);
  assert.deepEqual((await client.history(site.id, old)).map((r) => r.method), ['reject_all', 'custom'], 'the first secret presented is established');
  assert.equal((await forge(site.id, { subjectId: old, method: 'withdraw', subjectSecret: 'Xy3_kQ9-vL2mN7pR4sT8wZ' })).status, 403);
  await first.ctx.close();

  // An id another client wrote first with its own secret: the browser's decision goes to a new subject.
  const taken = mint();
  assert.equal((await forge(site.id, { subjectId: taken, method: 'accept_all', subjectSecret: 'Ab3_kQ9-vL2mN7pR4sT8wZ' })).status, 201);
  const second = await open({ site });
  await second.ctx.addCookies([cookieFor(taken)]);
  await second.p.reload();
  await second.p.waitForFunction(() => window.ConsentService);
  await second.p.evaluate(() => window.ConsentService.withdraw());
  await delivered(second.p, site.id);
  const moved = await subject(second.p);
  assert.notEqual(moved, taken);
  assert.deepEqual((await client.history(site.id, taken)).map((r) => r.method), ['accept_all'], 'nothing written for the taken id');
  assert.deepEqual((await client.history(site.id, moved)).map((r) => r.method), ['withdraw']);
  const cookie = (await second.ctx.cookies()).find((c) => c.name == 'consent_' + site.id);
  assert.equal(JSON.parse(Buffer.from(cookie.value, 'base64').toString()).s, moved, 'the cookie follows');
  assert.equal((await check(site.id, moved)).purposes.analytics.granted, false);
  await second.ctx.close();
});

test('the JS API: ready, get, has, onChange, set, rejectAll, withdraw, show, and the DOM event', async () => {
  const { site, p, ctx } = await open({ body: '' });
  assert.equal(await p.evaluate(() => window.ConsentService.ready), null);
  const result = await p.evaluate(async () => {
    const cs = window.ConsentService;
    const seen = [];
    const events = [];
    const off = cs.onChange((s) => seen.push(s.method));
    document.addEventListener('consentservice:change', (e) => events.push(e.detail.method));
    const set = cs.set({ analytics: true, bogus: true });
    const hasAnalytics = cs.has('analytics');
    const hasMarketing = cs.has('marketing');
    cs.rejectAll();
    off();
    const withdrawn = cs.withdraw();
    return { set, hasAnalytics, hasMarketing, seen, events, withdrawn, get: cs.get(), ready: await cs.ready };
  });
  assert.deepEqual(result.set.purposes, { necessary: true, analytics: true, marketing: false, model_improvement: false });
  assert.equal(result.set.method, 'custom');
  assert.equal(result.hasAnalytics, true);
  assert.equal(result.hasMarketing, false);
  assert.deepEqual(result.seen, ['custom', 'reject_all'], 'nothing after unsubscribing');
  assert.deepEqual(result.events, ['custom', 'reject_all', 'withdraw']);
  assert.equal(result.get.method, 'withdraw');
  assert.equal(result.get.policyVersion, 1);
  assert.equal(result.get.needsReconsent, false);
  assert.match(result.get.subjectId, /^sub_[A-Za-z0-9_-]{22}$/);
  assert.equal(result.ready, null, 'ready resolved with the state at load: none');
  await delivered(p, site.id);
  const records = await client.history(site.id, result.get.subjectId);
  assert.deepEqual(records.map((r) => r.method), ['custom', 'reject_all', 'withdraw']);

  await p.evaluate(() => window.ConsentService.show());
  await prefs(p).waitFor();
  await p.evaluate(() => window.ConsentService.acceptAll());
  await prefs(p).waitFor({ state: 'detached' });
  await ctx.close();
});

for (const where of ['body', 'head']) {
  test(`the banner goes up as soon as there is a body (snippet tag in the ${where}): before the rest of the page is parsed, before any storage round trip, no forced layout`, async () => {
    const site = await client.createSite(siteOptions());
    // A sync snippet tag (as some sites embed it), then the page's own blocking script in the body:
    // the parser waits 300 ms for it, and it notes whether the banner is there already. In the head,
    // the snippet runs before the body exists and must put the banner up once it does.
    const slow = { '/slow.js': { body: "__log.push('parser blocked, banner ' + !!document.querySelector('[data-consent-banner]'))", delay: 300 } };
    const { ctx } = await context(browser, { trackers: { ...trackers, ...slow } });
    const p = await ctx.newPage();
    const tag = `<script src="${service.url}/v1/sites/${site.id}/consent.js"></script>`;
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test shop</title>
<script>
window.__log = [];
const banner = () => !!document.querySelector('[data-consent-banner]');
// The first touch of localStorage is a synchronous round trip to the browser process: not before the banner.
const own = Object.getOwnPropertyDescriptor(window, 'localStorage') || Object.getOwnPropertyDescriptor(Window.prototype, 'localStorage');
let touched;
Object.defineProperty(window, 'localStorage', { configurable: true, get() { touched ||= (__log.push('storage, banner ' + banner()), 1); return own.get.call(window); } });
document.addEventListener('DOMContentLoaded', () => __log.push('DOMContentLoaded, banner ' + banner()));
</script>${where == 'head' ? tag : ''}</head><body><h1>Test shop</h1>
${where == 'body' ? tag : ''}
<script src="${TRACKER}/slow.js"></script>
<p>The rest of the page.</p>
</body></html>`;
    // A Chromium trace of the load: the snippet's evaluation must not force a layout (the banner's
    // first layout is its first frame's), a structural check rather than a timing.
    const cdp = await browser.newBrowserCDPSession();
    const events = [];
    cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
    const complete = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
    await cdp.send('Tracing.start', { traceConfig: { includedCategories: ['devtools.timeline'] }, transferMode: 'ReportEvents' });
    await p.goto(pages.add(html));
    await banner(p).waitFor();
    await p.waitForFunction(() => __log.some((e) => e.startsWith('storage')), null, { timeout: 10000 });
    await cdp.send('Tracing.end');
    await complete;
    await cdp.detach();

    // The storage read waits for a frame, which may come while the parser waits for slow.js: any order.
    const log = await p.evaluate(() => window.__log);
    assert.deepEqual([...log].sort(), ['DOMContentLoaded, banner true', 'parser blocked, banner true', 'storage, banner true']);
    assert.equal(await p.evaluate(() => !!document.activeElement.closest('[data-consent-banner]')), true, 'focus moved into the banner');
    const evaluation = events.find((e) => e.name == 'EvaluateScript' && e.args?.data?.url?.includes('/consent.js'));
    assert.ok(evaluation && evaluation.dur > 0, 'the trace has the snippet\'s evaluation');
    const inside = events.filter((e) => e.pid == evaluation.pid && e.tid == evaluation.tid && e.ts >= evaluation.ts && e.ts < evaluation.ts + evaluation.dur);
    assert.equal(inside.filter((e) => e.name == 'Layout').length, 0, 'no layout forced while the snippet runs');
    await ctx.close();
  });
}

/** Content-Security-Policy violations the page reports, and console errors (where Chromium logs refusals). */
function cspViolations(p) {
  const seen = [];
  p.on('console', (m) => m.type() == 'error' && seen.push(m.text()));
  p.on('pageerror', (e) => seen.push(e.message));
  return seen;
}

test('the demo page at / gates its fake analytics until consent, under its strict CSP', async () => {
  const { ctx } = await context(browser, { trackers });
  const p = await ctx.newPage();
  const violations = cspViolations(p);
  await p.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI)));
  const response = await p.goto(service.url + '/');
  assert.match(response.headers()['content-security-policy'], /script-src 'self' 'sha256-/);
  await banner(p).waitFor();
  await settle(p);
  assert.match(await p.locator('#analytics-status').textContent(), /not loaded/);
  await banner(p).getByRole('button', { name: 'Accept all' }).click();
  await p.getByText('analytics loaded', { exact: true }).waitFor();
  await delivered(p, 'demo');
  const records = await client.history('demo', await subject(p));
  assert.equal(records[0].method, 'accept_all');
  // The banner's <style>, the snippet, the page's own script and the gated one all ran: nothing was refused.
  assert.equal(await p.evaluate(() => getComputedStyle(document.querySelector('#analytics-status')).fontWeight), '600');
  assert.deepEqual(violations, []);
  await ctx.close();
});

test('the API docs at /swagger render under their CSP', async () => {
  const { ctx } = await context(browser, { trackers });
  const p = await ctx.newPage();
  const violations = cspViolations(p);
  await p.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI)));
  const response = await p.goto(service.url + '/swagger/index.html');
  assert.match(response.headers()['content-security-policy'], /script-src 'self';/);
  // Rendered by swagger-ui's bundle from /openapi/v1.json: scripts and the fetch both allowed.
  await p.locator('.opblock-summary-path', { hasText: '/v1/sites/{siteId}/consents' }).first().waitFor();
  await p.locator('.opblock-summary').first().click();
  await settle(p);
  assert.deepEqual(violations, []);
  await ctx.close();
});

test('the latest signed receipt is kept for the back end: none while a decision is on its way, then one that verifies offline', async () => {
  const { checkReceipt } = await import('../../../scripts/receipt-check.mjs');
  const jwks = await (await fetch(service.url + '/.well-known/consent-signing-key')).json();
  const { site, p, ctx } = await open();
  assert.equal(await p.evaluate(() => window.ConsentService.receipt()), null);

  await banner(p).getByRole('button', { name: 'Accept all' }).click();
  await delivered(p, site.id);
  const granted = JSON.parse(await p.evaluate(() => window.ConsentService.receipt()));
  const first = await checkReceipt({ receipt: granted, jwks });
  assert.ok(first.ok, JSON.stringify(first.checks));
  assert.equal(granted.record.siteId, site.id);
  assert.equal(granted.record.method, 'accept_all');
  assert.equal(granted.record.purposes.analytics, true);

  // A withdrawal hides the grant's receipt at once, before its own answer arrives.
  assert.equal(await p.evaluate(() => (window.ConsentService.withdraw(), window.ConsentService.receipt())), null);
  await delivered(p, site.id);
  const withdrawn = JSON.parse(await p.evaluate(() => window.ConsentService.receipt()));
  assert.ok((await checkReceipt({ receipt: withdrawn, jwks })).ok);
  assert.equal(withdrawn.record.method, 'withdraw');
  assert.equal(withdrawn.record.purposes.analytics, false);
  assert.ok(withdrawn.record.position > granted.record.position);

  // Kept across page loads, as the decision is.
  const again = await ctx.newPage();
  await again.goto(p.url());
  await again.waitForFunction(() => window.ConsentService);
  assert.equal(await again.evaluate(() => window.ConsentService.receipt()), JSON.stringify(withdrawn));
});
