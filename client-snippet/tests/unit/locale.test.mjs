import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveLocale } from '../../src/locale.js';

const texts = { en: {}, de: {}, 'pt-BR': {} };

test('the page language picks its texts, exactly or by primary language', () => {
  assert.equal(resolveLocale(texts, 'de', 'en'), 'de');
  assert.equal(resolveLocale(texts, 'de-AT', 'en'), 'de');
  assert.equal(resolveLocale(texts, 'DE-at', 'en'), 'de');
  assert.equal(resolveLocale(texts, 'de_CH', 'en'), 'de');
  assert.equal(resolveLocale(texts, 'pt-BR', 'en'), 'pt-BR');
  assert.equal(resolveLocale(texts, 'pt-br', 'en'), 'pt-BR');
});

test('a primary language finds a regional variant when that is all there is', () => {
  assert.equal(resolveLocale(texts, 'pt', 'en'), 'pt-BR');
  assert.equal(resolveLocale(texts, 'pt-PT', 'en'), 'pt-BR');
});

test('an unknown or missing page language falls back to the site default, then to the first locale', () => {
  assert.equal(resolveLocale(texts, 'fr', 'de'), 'de');
  assert.equal(resolveLocale(texts, '', 'de'), 'de');
  assert.equal(resolveLocale(texts, undefined, 'de'), 'de');
  assert.equal(resolveLocale(texts, 'fr', 'it'), 'en');
  assert.equal(resolveLocale({ de: {} }, 'fr', 'en'), 'de');
});
