import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieString, decode, encode, isStale, lifetimeDays, readCookie, refusedAll } from '../../src/store.js';
import { config, DAY } from './helpers.mjs';

const decision = { s: 'sub_AAAAAAAAAAAAAAAAAAAAAA', v: 2, p: { necessary: true, analytics: true, marketing: false }, m: 'custom', t: 1767225600000 };

test('a decision survives the cookie round trip, in cookie-safe characters', () => {
  const value = encode(decision);
  assert.match(value, /^[A-Za-z0-9+/=]+$/);
  assert.deepEqual(decode(value), decision);
  assert.deepEqual(readCookie(`other=1; consent_site_test=${value}; x=y`, 'consent_site_test'), decision);
});

test('only the named cookie is read, and an absent one is null', () => {
  const value = encode(decision);
  assert.equal(readCookie(`consent_site_test2=${value}`, 'consent_site_test'), null);
  assert.equal(readCookie('', 'consent_site_test'), null);
});

test('a damaged or hand-edited cookie is no decision', () => {
  assert.equal(decode('not base64!'), null);
  assert.equal(decode(btoa('{"s":1}')), null);
  assert.equal(decode(btoa(JSON.stringify({ ...decision, s: 'user:42' }))), null, 'a guessable subject id');
  assert.equal(decode(btoa(JSON.stringify({ ...decision, v: '2' }))), null);
  assert.equal(decode(btoa(JSON.stringify({ ...decision, p: null }))), null);
  assert.equal(decode(btoa(JSON.stringify({ ...decision, t: 'yesterday' }))), null);
});

test('the cookie is first-party, site-wide, Lax, Secure on https, and lives as many days as given', () => {
  assert.equal(cookieString('consent_x', 'v', 395, true), 'consent_x=v; Max-Age=34128000; Path=/; SameSite=Lax; Secure');
  assert.equal(cookieString('consent_x', 'v', 182, false), 'consent_x=v; Max-Age=15724800; Path=/; SameSite=Lax');
});

test('a refusal of every optional purpose lives refusalReaskDays, any grant consentMaxAgeDays', () => {
  const c = config();
  assert.equal(refusedAll(c, { necessary: true, analytics: false }), true);
  assert.equal(lifetimeDays(c, { necessary: true }), 182);
  assert.equal(lifetimeDays(c, { necessary: true, marketing: true }), 395);
});

test('no decision, a decision before the latest material version, or an old one is stale', () => {
  const c = config();
  const now = decision.t + DAY;
  assert.equal(isStale(c, null, now), true);
  assert.equal(isStale(c, decision, now), false, 'version 2 is the latest material one');
  assert.equal(isStale(c, { ...decision, v: 3 }, now), false);
  assert.equal(isStale(c, { ...decision, v: 1 }, now), true);
  assert.equal(isStale(c, decision, decision.t + 395 * DAY), false);
  assert.equal(isStale(c, decision, decision.t + 396 * DAY), true);
  const refused = { ...decision, p: { necessary: true, analytics: false } };
  assert.equal(isStale(c, refused, decision.t + 182 * DAY), false);
  assert.equal(isStale(c, refused, decision.t + 183 * DAY), true);
});

test('with a cookieDomain the cookie is written for it, so its subdomains share it', () => {
  assert.equal(cookieString('consent_x', 'v', 395, true, 'example.com'), 'consent_x=v; Max-Age=34128000; Path=/; SameSite=Lax; Secure; Domain=example.com');
  assert.equal(cookieString('consent_x', 'v', 395, false, undefined), 'consent_x=v; Max-Age=34128000; Path=/; SameSite=Lax');
});

test('the cookie is found first, last or alone, and only by its whole name', () => {
  const value = encode(decision);
  assert.deepEqual(readCookie(`consent_site_test=${value}`, 'consent_site_test'), decision);
  assert.deepEqual(readCookie(`a=1; consent_site_test=${value}`, 'consent_site_test'), decision);
  assert.deepEqual(readCookie(`consent_site_test=${value}; a=1`, 'consent_site_test'), decision);
  assert.equal(readCookie(`xconsent_site_test=${value}; consent_site_test_2=${value}`, 'consent_site_test'), null);
  assert.equal(readCookie(`a=consent_site_test=${value}`, 'consent_site_test'), null);
  assert.equal(readCookie('consent_site_test=', 'consent_site_test'), null);
});
