import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoff, outbox, retryable } from '../../src/outbox.js';
import { memoryStorage } from './helpers.mjs';

/** A send() whose answers are scripted; records every body it was given. */
function server(...statuses) {
  const sent = [];
  const send = async (body) => {
    sent.push(body);
    return statuses.length ? statuses.shift() : 201;
  };
  return { send, sent, statuses };
}

/** Timers that fire only when the test says so. */
function timers() {
  const queue = [];
  const set = (fn, ms) => (queue.push({ fn, ms }), queue.length);
  return { set, queue, fire: async () => { await queue.shift().fn(); } };
}

test('network failures, timeouts, 429 and 5xx are retried; other answers are final', () => {
  for (const s of [0, undefined, 408, 425, 429, 500, 502, 503]) assert.equal(retryable(s), true, String(s));
  for (const s of [200, 201, 400, 401, 404, 409, 413, 415, 422]) assert.equal(retryable(s), false, String(s));
});

test('the backoff doubles from one second and stops growing at five minutes', () => {
  assert.deepEqual([0, 1, 2, 3].map(backoff), [1000, 2000, 4000, 8000]);
  assert.equal(backoff(8), 256000);
  assert.equal(backoff(9), 300000);
  assert.equal(backoff(50), 300000);
});

test('a decision is stored before it is posted and leaves the queue once recorded', async () => {
  const storage = memoryStorage();
  const s = server();
  const box = outbox(storage, 'q', async (body) => {
    assert.equal(JSON.parse(storage.getItem('q'))[0].k, 'k1', 'queued before the post');
    return s.send(body);
  });
  await box.add('k1', { method: 'accept_all', idempotencyKey: 'k1' });
  assert.deepEqual(s.sent, [{ method: 'accept_all', idempotencyKey: 'k1' }]);
  assert.equal(storage.getItem('q'), null);
});

test('a failed post stays queued, is retried with backoff with the same key, and survives a reload', async () => {
  const storage = memoryStorage();
  const t = timers();
  const s = server(0, 503);
  const box = outbox(storage, 'q', s.send, t.set);
  await box.add('k1', { idempotencyKey: 'k1' });
  assert.equal(box.items().length, 1);
  assert.deepEqual(t.queue.map((x) => x.ms), [1000]);
  await t.fire();
  assert.deepEqual(t.queue.map((x) => x.ms), [2000], 'the second failure waits longer');
  assert.equal(box.items().length, 1);

  // A reload: a new outbox over the same storage sends what the last page could not.
  const after = server();
  await outbox(storage, 'q', after.send, t.set).flush();
  assert.deepEqual(after.sent, [{ idempotencyKey: 'k1' }]);
  assert.deepEqual(s.sent.map((b) => b.idempotencyKey), ['k1', 'k1']);
  assert.equal(storage.getItem('q'), null);
});

test('decisions are posted one at a time in order; a later one waits behind a failed one', async () => {
  const storage = memoryStorage();
  const t = timers();
  const s = server(503, 503);
  const box = outbox(storage, 'q', s.send, t.set);
  await box.add('accept', { m: 'accept' });
  // A new decision is a chance to retry at once, but the queue's head still goes first.
  await box.add('withdraw', { m: 'withdraw' });
  assert.deepEqual(s.sent.map((b) => b.m), ['accept', 'accept'], 'the withdrawal must not overtake the consent');
  assert.deepEqual(box.items().map((x) => x.k), ['accept', 'withdraw']);
  await t.fire();
  assert.deepEqual(s.sent.map((b) => b.m), ['accept', 'accept', 'accept', 'withdraw']);
  assert.deepEqual(box.items(), []);
});

test('an answer no retry can fix drops the entry with a warning and goes on with the next', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const storage = memoryStorage();
  const s = server(400, 201);
  const box = outbox(storage, 'q', s.send);
  storage.setItem('q', JSON.stringify([{ k: 'bad', b: { m: 'bad' } }, { k: 'good', b: { m: 'good' } }]));
  await box.flush();
  assert.deepEqual(s.sent.map((b) => b.m), ['bad', 'good']);
  assert.equal(storage.getItem('q'), null);
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0].arguments[0]), /HTTP 400/);
});

test('without usable storage the queue still works for the page', async () => {
  const broken = { getItem() { throw new Error('blocked'); }, setItem() { throw new Error('blocked'); }, removeItem() { throw new Error('blocked'); } };
  const t = timers();
  const s = server(0);
  const box = outbox(broken, 'q', s.send, t.set);
  await box.add('k1', { n: 1 });
  assert.equal(box.items().length, 1);
  await t.fire();
  assert.deepEqual(s.sent, [{ n: 1 }, { n: 1 }]);
  assert.deepEqual(box.items(), []);
  const none = outbox(undefined, 'q', server().send);
  await none.add('k2', { n: 2 });
  assert.deepEqual(none.items(), []);
});

test('a flush asked for while one runs happens after it, not alongside', async () => {
  const storage = memoryStorage();
  const answers = [];
  const sent = [];
  const box = outbox(storage, 'q', (body) => {
    sent.push(body.n);
    return new Promise((done) => answers.push(() => done(201)));
  });
  const first = box.add('a', { n: 1 });
  box.add('b', { n: 2 });
  box.flush();
  assert.deepEqual(sent, [1], 'one post in flight');
  answers.shift()();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, [1, 2]);
  answers.shift()();
  await first;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, [1, 2], 'each decision posted once');
  assert.deepEqual(box.items(), []);
});
