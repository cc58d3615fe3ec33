import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64url, randomId, SUBJECT_ID } from '../../src/ids.js';

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
