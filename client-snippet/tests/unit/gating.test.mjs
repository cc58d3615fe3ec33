import { test } from 'node:test';
import assert from 'node:assert/strict';
import { purposesOf, releasable, SELECTOR } from '../../src/gating.js';
import { gtag } from '../../src/consent-mode.js';

const tag = (consent) => ({ getAttribute: (name) => (name == 'data-consent' ? consent : null), consent });
const granted = (...ids) => (id) => ids.includes(id);

test('data-consent lists one or more purposes, separated by any white space', () => {
  assert.deepEqual(purposesOf(tag('analytics')), ['analytics']);
  assert.deepEqual(purposesOf(tag(' analytics \n marketing ')), ['analytics', 'marketing']);
  assert.deepEqual(purposesOf(tag('')), []);
  assert.deepEqual(purposesOf(tag(null)), []);
});

test('a tag is released only when every purpose it names is granted, in document order', () => {
  const tags = [tag('analytics'), tag('marketing'), tag('analytics marketing'), tag(''), tag('analytics')];
  assert.deepEqual(releasable(tags, granted()).map((t) => t.consent), []);
  assert.deepEqual(releasable(tags, granted('analytics')).map((t) => t.consent), ['analytics', 'analytics']);
  assert.deepEqual(releasable(tags, granted('analytics', 'marketing')).map((t) => t.consent),
    ['analytics', 'marketing', 'analytics marketing', 'analytics']);
});

test('the selector finds inert scripts and iframes waiting for their src, nothing else', () => {
  assert.equal(SELECTOR, 'script[type="text/plain"][data-consent],iframe[data-consent][data-src]');
});

test('gtag queues Arguments objects in dataLayer and keeps the page\'s own gtag', () => {
  const w = {};
  gtag(w, 'consent', 'default', { ad_storage: 'denied' });
  assert.equal(w.dataLayer.length, 1);
  assert.equal(Object.prototype.toString.call(w.dataLayer[0]), '[object Arguments]');
  assert.deepEqual([...w.dataLayer[0]], ['consent', 'default', { ad_storage: 'denied' }]);

  const calls = [];
  const own = { dataLayer: ['existing'], gtag: (...args) => calls.push(args) };
  gtag(own, 'consent', 'update', { ad_storage: 'granted' });
  assert.deepEqual(calls, [['consent', 'update', { ad_storage: 'granted' }]]);
  assert.deepEqual(own.dataLayer, ['existing']);
});
