import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clean } from '../../src/cleanup.js';
import { config } from './helpers.mjs';

/**
 * A cookie jar as a browser keeps one for a page on `host`: each cookie has a name and the domain
 * it was set for (null: host-only). Writing applies Max-Age=0 as a deletion of the cookie with that
 * name and exactly that Domain (or host-only), the way a browser matches them; a Domain the host is
 * not within, or a single label, is refused like a public suffix. The page sees only its own cookies.
 */
function page(host, cookies, storage = {}) {
  const jar = cookies.map((c) => [].concat(c)).map(([name, domain = null]) => ({ name, domain }));
  const writes = [];
  const document = {
    get cookie() {
      return jar.filter((c) => !c.domain || ('.' + host).endsWith('.' + c.domain)).map((c) => c.name + '=v=1').join('; ');
    },
    set cookie(value) {
      writes.push(value);
      const [name] = value.split('=');
      const domain = /; Domain=([^;]+)/.exec(value)?.[1] ?? null;
      if (domain && (!('.' + host).endsWith('.' + domain) || !domain.includes('.'))) return;
      if (/; Max-Age=0(;|$)/.test(value)) {
        for (let i = jar.length; i--;) if (jar[i].name == name && jar[i].domain == domain) jar.splice(i, 1);
      }
    },
  };
  globalThis.location = { hostname: host };
  const local = Object.create({ removeItem(k) { delete this[k]; } });
  Object.assign(local, storage);
  globalThis.localStorage = local;
  return { document, jar, writes, local, names: () => jar.map((c) => c.name + (c.domain ? '@' + c.domain : '')).sort() };
}

const policy = () => config({
  purposes: [
    { id: 'necessary', required: true, vendors: [{ name: 'ConsentService', cookies: ['consent_*'] }] },
    { id: 'analytics', required: false, vendors: [
      { name: 'PostHog', cookies: ['ph_*_posthog'], localStorage: ['ph_*_posthog'] },
      { name: 'Google Analytics', cookies: ['_ga', '_ga_*'] },
      { name: 'Odd names', cookies: ['a.b', 'x+y$', 'pre*mid*post'] },
    ] },
    { id: 'marketing', required: false, vendors: [{ name: 'Hotjar', cookies: ['_hj*'], localStorage: ['_hj*'] }, { name: 'Sentry' }] },
  ],
});
const granted = (...ids) => (id) => id == 'necessary' || ids.includes(id);

test('patterns: literal text and * for any run; a literal matches only itself, whatever its characters', () => {
  const p = page('shop.example.com', [
    '_ga', '_ga_ABC123', '_gax', 'x_ga', '_ga_', 'ph_phc_123_posthog', 'ph__posthog', 'ph_x_posthog2',
    'a.b', 'axb', 'x+y$', 'xxy$', 'x+y', 'premidpost', 'pre-1-mid-2-post', 'premid', 'other',
  ]);
  clean(p.document, policy(), granted('marketing'));
  assert.deepEqual(p.names(), ['_gax', 'axb', 'other', 'ph_x_posthog2', 'premid', 'x+y', 'x_ga', 'xxy$']);
});

test('a refused purpose loses its cookies; a granted or required one keeps its own, and the decision cookie stays', () => {
  const p = page('shop.example.com', ['_ga', '_hjSession_1', 'consent_site_test', 'consent_secret_site_test', 'session']);
  clean(p.document, policy(), granted('analytics'));
  assert.deepEqual(p.names(), ['_ga', 'consent_secret_site_test', 'consent_site_test', 'session']);
  clean(p.document, policy(), granted());
  assert.deepEqual(p.names(), ['consent_secret_site_test', 'consent_site_test', 'session']);
});

test('the domain walk: host-only, then the host and every parent domain down to two labels, at path /', () => {
  const p = page('a.b.example.com', [['_ga'], ['_ga', 'example.com'], ['_ga', 'b.example.com'], ['_ga', 'a.b.example.com'], ['_ga', 'other.example.com']]);
  clean(p.document, policy(), granted());
  // Once per cookie of that name the page sees (four here): the same writes each time.
  assert.deepEqual([...new Set(p.writes.map((w) => /Domain=([^;]+)/.exec(w)?.[1] ?? 'host-only'))],
    ['host-only', 'a.b.example.com', 'b.example.com', 'example.com']);
  for (const w of p.writes) assert.match(w, /^_ga=; Max-Age=0; Path=\//);
  // A sibling's cookie is not this page's to see or delete.
  assert.deepEqual(p.names(), ['_ga@other.example.com']);
});

test('the walk never tries the top-level label, and a single-label host is host-only', () => {
  const p = page('example.co.uk', [['_ga', 'example.co.uk']]);
  clean(p.document, policy(), granted());
  assert.deepEqual(p.writes.map((w) => /Domain=([^;]+)/.exec(w)?.[1] ?? 'host-only'), ['host-only', 'example.co.uk', 'co.uk']);
  assert.deepEqual(p.names(), []);
  const local = page('localhost', [['_ga']]);
  clean(local.document, policy(), granted());
  assert.deepEqual(local.writes.map((w) => /Domain=/.test(w)), [false]);
  assert.deepEqual(local.names(), []);
});

test('localStorage: the keys the refused vendors name go; cookie patterns do not apply to keys', () => {
  const p = page('shop.example.com', [], { ph_phc_1_posthog: '{}', _hjSessionUser_9: '1', _ga: 'kept: a cookie pattern', consent_outbox_site_test: '[]' });
  clean(p.document, policy(), granted('marketing'));
  assert.deepEqual(Object.keys(p.local).sort(), ['_ga', '_hjSessionUser_9', 'consent_outbox_site_test']);
  clean(p.document, policy(), granted());
  assert.deepEqual(Object.keys(p.local).sort(), ['_ga', 'consent_outbox_site_test']);
});

test('blocked storage is no error, and the cookies still go', () => {
  const p = page('shop.example.com', ['_ga']);
  Object.defineProperty(globalThis, 'localStorage', { get() { throw new Error('SecurityError'); }, configurable: true });
  try {
    clean(p.document, policy(), granted());
    assert.deepEqual(p.names(), []);
  } finally {
    Object.defineProperty(globalThis, 'localStorage', { value: undefined, writable: true, configurable: true });
  }
});

test('nothing is written when nothing is refused or nothing matches', () => {
  const p = page('shop.example.com', ['_ga', 'other']);
  clean(p.document, policy(), granted('analytics', 'marketing'));
  clean(p.document, config(), granted());
  assert.deepEqual(p.writes, []);
  assert.deepEqual(p.names(), ['_ga', 'other']);
});
