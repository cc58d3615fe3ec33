import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, gpcApplies } from '../../src/decision.js';
import { consentMode } from '../../src/consent-mode.js';
import { config } from './helpers.mjs';

const all = (necessary, analytics, marketing, model_improvement) => ({ necessary, analytics, marketing, model_improvement });

test('every purpose gets a value: required granted, optional as the method says', () => {
  const c = config();
  assert.deepEqual(decide(c, 'accept_all', {}, false), { method: 'accept_all', purposes: all(true, true, true, true) });
  assert.deepEqual(decide(c, 'reject_all', { analytics: true }, false), { method: 'reject_all', purposes: all(true, false, false, false) });
  assert.deepEqual(decide(c, 'withdraw', { analytics: true }, false), { method: 'withdraw', purposes: all(true, false, false, false) });
  assert.deepEqual(decide(c, 'custom', { analytics: true, necessary: false, unknown: true }, false),
    { method: 'custom', purposes: all(true, true, false, false) });
  assert.deepEqual(decide(c, 'custom', { analytics: 'yes' }, false).purposes.analytics, false, 'only true grants');
});

test('under GPC marketing is refused, and a choice it overrides is recorded as gpc', () => {
  const c = config();
  assert.deepEqual(decide(c, 'accept_all', {}, true), { method: 'gpc', purposes: all(true, true, false, true) });
  assert.deepEqual(decide(c, 'custom', { marketing: true }, true), { method: 'gpc', purposes: all(true, false, false, false) });
  assert.deepEqual(decide(c, 'custom', { analytics: true }, true), { method: 'custom', purposes: all(true, true, false, false) });
  assert.deepEqual(decide(c, 'reject_all', {}, true), { method: 'reject_all', purposes: all(true, false, false, false) });
  assert.deepEqual(decide(c, 'gpc', { analytics: true, marketing: true }, true), { method: 'gpc', purposes: all(true, true, false, false) });
});

test('GPC counts where the resolved jurisdiction is ccpa and the signal is exactly true', () => {
  assert.equal(gpcApplies(config({ jurisdiction: 'ccpa' }), { globalPrivacyControl: true }), true);
  assert.equal(gpcApplies(config({ jurisdiction: 'gdpr' }), { globalPrivacyControl: true }), false);
  assert.equal(gpcApplies(config({ jurisdiction: 'ccpa' }), { globalPrivacyControl: false }), false);
  assert.equal(gpcApplies(config({ jurisdiction: 'ccpa' }), { globalPrivacyControl: '1' }), false);
  assert.equal(gpcApplies(config({ jurisdiction: 'ccpa' }), {}), false);
});

test('Consent Mode v2: analytics drives analytics_storage, marketing the three ad signals', () => {
  const granted = (...ids) => (id) => ids.includes(id);
  assert.deepEqual(consentMode(granted()), { ad_storage: 'denied', analytics_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied' });
  assert.deepEqual(consentMode(granted('analytics')), { ad_storage: 'denied', analytics_storage: 'granted', ad_user_data: 'denied', ad_personalization: 'denied' });
  assert.deepEqual(consentMode(granted('marketing')), { ad_storage: 'granted', analytics_storage: 'denied', ad_user_data: 'granted', ad_personalization: 'granted' });
  assert.deepEqual(consentMode(granted('model_improvement')), consentMode(granted()));
});
