import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64url, keeper, randomId, SUBJECT_ID } from '../../src/ids.js';
import { memoryStorage } from './helpers.mjs';

test('subject ids are sub_ and 16 random bytes as 22 base64url characters, as the service requires', () => {
  const seen = new Set();
  for (let i = 0; i < 500; i++) {
    const id = randomId('sub_');
    assert.match(id, /^sub_[A-Za-z0-9_-]{22}$/);
    assert.ok(SUBJECT_ID.test(id));
    seen.add(id);
  }
  assert.equal(seen.size, 500);
});

test('the id is the random bytes, base64url-encoded without padding', () => {
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => 250 + (i % 6));
  const fixed = { getRandomValues: (a) => (a.set(bytes), a) };
  assert.equal(randomId('sub_', fixed), 'sub_' + Buffer.from(bytes).toString('base64url'));
  assert.equal(base64url(new Uint8Array([0xfb, 0xff])), '-_8');
});

test('ids the service refuses are not taken for subject ids', () => {
  for (const bad of ['sub_short', 'sub_AAAAAAAAAAAAAAAAAAAAA+', 'user_AAAAAAAAAAAAAAAAAAAAAA', 'sub_AAAAAAAAAAAAAAAAAAAAAAA']) {
    assert.equal(SUBJECT_ID.test(bad), false, bad);
  }
});

const SECRET = /^[A-Za-z0-9_-]{22}$/;

test('a new browser gets a random id and a write secret, kept together and the same on every call', () => {
  const storage = memoryStorage();
  const me = keeper(storage, 'consent_secret_site');
  const first = me(null);
  assert.match(first.s, SUBJECT_ID);
  assert.match(first.k, SECRET);
  assert.notEqual(first.k, first.s.slice(4));
  assert.equal(storage.getItem('consent_secret_site'), first.s + ' ' + first.k);
  assert.deepEqual(me(first.s), first);
  // Another page load of the same origin: the same pair.
  assert.deepEqual(keeper(storage, 'consent_secret_site')(first.s), first);
});

test('the secret is 16 bytes of getRandomValues, base64url', () => {
  let n = 0;
  const random = { getRandomValues: (a) => (a.fill(++n * 7), a) };
  const { s, k } = keeper(memoryStorage(), 'x', random)(null);
  assert.equal(s, 'sub_' + Buffer.alloc(16, 7).toString('base64url'));
  assert.equal(k, Buffer.alloc(16, 14).toString('base64url'));
});

test('a cookie id with no secret here (from before write secrets) keeps its id and gets a new secret', () => {
  const storage = memoryStorage();
  const me = keeper(storage, 'n');
  const old = randomId('sub_');
  const pair = me(old);
  assert.equal(pair.s, old);
  assert.match(pair.k, SECRET);
  assert.deepEqual(me(old), pair, 'minted once');
  // A cookie naming another id than the stored one: that id, with a secret of its own.
  const other = randomId('sub_');
  const next = me(other);
  assert.equal(next.s, other);
  assert.notEqual(next.k, pair.k);
});

test('a fresh subject replaces the stored pair', () => {
  const storage = memoryStorage();
  const me = keeper(storage, 'n');
  const first = me(null);
  const fresh = me(first.s, true);
  assert.notEqual(fresh.s, first.s);
  assert.notEqual(fresh.k, first.k);
  assert.deepEqual(me(fresh.s), fresh);
  assert.equal(storage.getItem('n'), fresh.s + ' ' + fresh.k);
});

test('blocked storage: the pair lives in memory for the page', () => {
  const blocked = { getItem() { throw new Error('SecurityError'); }, setItem() { throw new Error('SecurityError'); } };
  for (const storage of [blocked, undefined]) {
    const me = keeper(storage, 'n');
    const first = me(null);
    assert.match(first.k, SECRET);
    assert.deepEqual(me(first.s), first);
  }
});
