import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiBase } from '../../src/endpoint.js';
import { config } from './helpers.mjs';

test('the configured public URL wins', () => {
  assert.equal(apiBase(config({ api: 'https://consent.example' }), { src: 'https://cdn.example/v1/sites/s/consent.js' }), 'https://consent.example');
});

test('without one, decisions go where the script came from, path base included', () => {
  const noApi = config({ api: undefined });
  assert.equal(apiBase(noApi, { src: 'https://consent.example/v1/sites/site_1/consent.js' }), 'https://consent.example');
  assert.equal(apiBase(noApi, { src: 'https://shop.example/consent/v1/sites/site_1/consent.js?v=2' }), 'https://shop.example/consent');
  assert.equal(apiBase(noApi, { src: 'http://127.0.0.1:5080/v1/sites/demo/consent.js' }), 'http://127.0.0.1:5080');
});

test('an inlined script (no src) posts to its page\'s origin', () => {
  const noApi = config({ api: undefined });
  assert.equal(apiBase(noApi, null), '');
  assert.equal(apiBase(noApi, { src: '' }), '');
  assert.equal(apiBase(noApi, { src: 'https://cdn.example/bundle.js' }), '');
});
