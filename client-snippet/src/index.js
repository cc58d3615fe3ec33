/**
 * ConsentService snippet. The service serves this file with the site's config in place of
 * __CONSENT_CONFIG__ (GET /v1/sites/{siteId}/consent.js), so a page makes one request.
 */
import { gtag, consentMode } from './consent-mode.js';
import { decide, gpcApplies } from './decision.js';
import { apiBase } from './endpoint.js';
import { gate, SELECTOR } from './gating.js';
import { keeper, randomId } from './ids.js';
import { resolveLocale } from './locale.js';
import { outbox } from './outbox.js';
import { cookieString, encode, isStale, lifetimeDays, readCookie } from './store.js';
import { ui } from './ui.js';
import { clean } from './cleanup.js';

const config = __CONSENT_CONFIG__;
const w = window;
const d = document;

// Read now: currentScript is only set while the script first runs.
const script = d.currentScript;
const endpoint = apiBase(config, script);

if (!w.ConsentService) {
  // Before anything else, and before any gated tag can run (Consent Mode v2).
  // Everything denied: the signals of a visitor who granted nothing.
  gtag(w, 'consent', 'default', { ...consentMode(() => 0), wait_for_update: 500 });

  const name = 'consent_' + config.siteId;
  const locale = resolveLocale(config.texts, d.documentElement.lang, config.defaultLocale);
  const gpc = gpcApplies(config, navigator);
  const listeners = new Set();
  let state = readCookie(d.cookie, name);
  // A signed-in visitor (identify): the subject token its decisions are recorded under, and, while the
  // service is asked for the user's decision, `waiting`: the cookie may be older than another device's choice.
  let token, waiting;

  const current = () => (isStale(config, state, Date.now()) ? null : state);
  const has = (id) => config.purposes.some((p) => p.id == id && (p.required || (!waiting && current()?.p[id] === true)));
  const get = () => state && {
    subjectId: state.s,
    policyVersion: state.v,
    method: state.m,
    recordedAt: new Date(state.t).toISOString(),
    needsReconsent: !current(),
    purposes: Object.fromEntries(config.purposes.map((p) => [p.id, has(p.id)])),
  };

  const release = gate(d, has);
  // localStorage, touched only when used: the first touch is a synchronous round trip to the browser
  // process (a storage-access check, then loading the area), 1 to 50 ms on a busy machine, so it
  // comes after the banner. Blocked storage (sandboxed frames, some privacy modes) throws here, and
  // the callers keep to memory.
  const storage = new Proxy({}, { get: (_, m) => (...a) => localStorage[m](...a) });
  const me = keeper(storage, 'consent_secret_' + config.siteId);
  // The latest signed receipt, for the page to hand its back end (ConsentService.Client checks it offline).
  const R = 'consent_receipt_' + config.siteId;
  // Domain=cookieDomain when the site has one: every subdomain shares the decision.
  const save = () => (d.cookie = cookieString(name, encode(state), lifetimeDays(config, state.p), location.protocol == 'https:', config.cookieDomain));
  // The decision this browser now holds, for its subject, in the cookie.
  const keep = (v, p, m, t) => ((state = { s: me(state?.s).s, v, p, m, t }), save());
  // Every post names the browser's subject and proves it with the secret kept beside the id; a signed-in
  // visitor's decision is the user's (the token names them).
  const call = (path, body, { s, k }) => fetch(endpoint + '/v1/sites/' + config.siteId + path, {
    method: 'POST',
    // text/plain: a "simple" request, no CORS preflight; keepalive: it survives the page unloading.
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ subjectId: s, subjectSecret: k, subjectToken: token, ...body }),
    keepalive: true,
    credentials: 'omit',
  });
  // The new receipt replaces the last before the outbox moves on (full or blocked storage: none is kept).
  const post = (body, who) => call('/consents', body, who).then((r) => r.json().then((j) => r.ok && (storage.removeItem(R), storage.setItem(R, JSON.stringify(j.receipt)))).then(() => r.status, () => r.status), () => 0);
  const send = async (body) => {
    const status = await post(body, me(state?.s));
    if (status != 403) return status;
    // The id is not this browser's to write (its secret was lost, or another client claimed an old id
    // first): the decision goes to a new subject, and the cookie follows.
    const fresh = me(0, 1);
    if (state) (state.s = fresh.s), save();
    return post(body, fresh);
  };
  const queue = outbox(storage, 'consent_outbox_' + config.siteId, send);

  const apply = () => {
    gtag(w, 'consent', 'update', consentMode(has));
    release();
  };

  const record = (how, chosen = {}) => {
    const { method, purposes } = decide(config, how, chosen, gpc);
    const key = randomId('dec_');
    keep(config.version, purposes, method, Date.now());
    queue.add(key, {
      policyVersion: config.version,
      method,
      purposes,
      source: { url: /^http/.test(location.protocol) ? (location.origin + location.pathname).slice(0, 2048) : undefined, locale },
      idempotencyKey: key,
    });
    return changed();
  };

  const changed = () => {
    view.close();
    apply();
    clean(d, config, has);
    const detail = get();
    listeners.forEach((cb) => {
      try {
        cb(detail);
      } catch (e) {
        console.error(e);
      }
    });
    d.dispatchEvent(new CustomEvent('consentservice:change', { detail }));
    return detail;
  };

  const view = ui(d, config, config.texts[locale], locale, {
    granted: (id) => !!state?.p[id],
    decided: () => !!current(),
    act: record,
    gpc,
  });
  const whenReady = (fn) => (d.body ? fn() : d.addEventListener('DOMContentLoaded', fn));
  // The banner goes up as soon as there is a body to put it in: no wait for the rest of the page
  // (DOMContentLoaded), so a script that runs while the page is still parsing shows it at once.
  let asked;
  const ask = () => asked || waiting || !d.body || current() || ((asked = 1), view.banner());

  // Signed in: this browser's anonymous subject is linked to the user, and the user's current decision, from
  // whichever device, replaces the cookie's. A refused token changes nothing and is not kept.
  const identify = (t) => (waiting = call('/identify', { subjectToken: t }, me(state?.s))
    .then((r) => r.ok && ((token = t), r.json()))
    .then((x) => x.recordedAt && keep(x.policyVersion, x.purposes, x.method, Date.parse(x.recordedAt)), () => 0)
    .then(() => ((waiting = 0), current() ? changed() : ask())));
  // A token in the tag (data-subject-token): asked before anything optional runs or the banner shows.
  if (script?.dataset.subjectToken) identify(script.dataset.subjectToken);

  w.ConsentService = {
    ready: Promise.resolve(waiting).then(get),
    get,
    has,
    onChange: (cb) => (listeners.add(cb), () => listeners.delete(cb)),
    show: () => whenReady(view.preferences),
    acceptAll: () => record('accept_all'),
    rejectAll: () => record('reject_all'),
    set: (purposes) => record('custom', { ...current()?.p, ...purposes }),
    withdraw: () => record('withdraw'),
    identify,
    // None while a decision is on its way: the last receipt would say what the visitor no longer says.
    receipt: () => (queue.items()[0] ? null : storage.getItem(R)),
  };

  if (gpc && (!current() || current().p.marketing)) {
    // GPC: an opt-out with no question asked; it beats an earlier opt-in to marketing (CCPA regs §7025).
    record('gpc', current()?.p);
  } else if (current()) {
    apply();
  }
  // First the banner, then what can wait for it: the scan for gated tags (none may run before a
  // decision but those of required purposes) and the outbox.
  ask();
  // Tags parsed or inserted later, by the page or by released scripts; and the body, for a script
  // that ran before it existed.
  new MutationObserver((changes) => {
    ask();
    if (changes.some((c) => [...c.addedNodes].some((n) => n.nodeType == 1 && (n.matches(SELECTOR) || n.querySelector(SELECTOR))))) release();
  }).observe(d.documentElement, { childList: true, subtree: true });
  release();
  // Decisions left from an earlier page: sent once this one has had its first frame (the first
  // storage read is the round trip above).
  // Also what refused purposes' vendors left here since, e.g. after a withdrawal on another subdomain
  // (not while a signed-in visitor's decision is being fetched: has() answers no until it comes).
  (d.hidden ? setTimeout : requestAnimationFrame)(() => setTimeout(() => (queue.flush(), current() && !waiting && clean(d, config, has))));
  w.addEventListener('online', queue.flush);
}
