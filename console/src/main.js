// The console: a small single-page app served at /console by the service itself. Plain modules,
// no framework: a router over history.pushState, one render function per screen, and the session
// (an HttpOnly cookie the page never sees, plus a CSRF token kept in memory only).
import './console.css';
import { h, clear } from './dom.js';
import { call, setCsrf, onSessionExpired } from './api.js';
import { screens } from './screens/index.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const sessionBox = document.getElementById('session');
const status = document.getElementById('status');

/** { role, sites: [{ id, name }], expiresAt, csrfToken } or null. */
let session = null;
let site = null;
let expiryNote = null;

/** Said to screen readers (and shown) once: results, errors, what a click did. */
export function announce(text) {
  status.textContent = '';
  // A fresh node per message so the same text twice is read twice.
  setTimeout(() => { status.textContent = text; }, 30);
}

const isAdmin = () => session && (session.role === 'admin' || session.role === 'operator');
const allowed = (screen) => !screen.admin || isAdmin();

function normalise(s) {
  const sites = (s.sites || []).map((x) => (typeof x === 'string' ? { id: x, name: x } : { id: x.id, name: x.name || x.id }));
  return { ...s, sites };
}

export function go(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

/** A link inside the console that the router follows without reloading. */
export function link(path, ...children) {
  return h('a', { href: path, onclick: (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(path);
  } }, ...children);
}

/** /console/<screen>?site=… for the current site (and extra query members). */
export function href(screen, query = {}) {
  const qs = new URLSearchParams({ site: site || '', ...query });
  for (const [k, v] of [...qs]) if (v === '' || v === undefined) qs.delete(k);
  return `/console/${screen}?${qs}`;
}

function renderNav(current) {
  clear(nav);
  if (!session) return;
  nav.append(h('ul', null, screens.filter((s) => s.nav && allowed(s)).map((s) =>
    h('li', null, link(href(s.path), s.title)))));
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href').startsWith(`/console/${current}?`)) a.setAttribute('aria-current', 'page');
  }
}

function renderSession() {
  clear(sessionBox);
  if (!session) return;
  const select = h('select', { id: 'site', onchange: () => { site = select.value; go(href(currentPath())); } },
    session.sites.map((s) => h('option', { value: s.id, selected: s.id === site }, s.name === s.id ? s.id : `${s.name} (${s.id})`)));
  sessionBox.append(
    h('label', { for: 'site', class: 'site-label' }, 'Site'), select,
    h('span', { class: 'role', id: 'role' }, session.role),
    h('button', { type: 'button', id: 'signout', class: 'secondary', onclick: signOut }, 'Sign out'));
}

function currentPath() {
  return location.pathname.replace(/^\/console\/?/, '').split('/')[0] || '';
}

async function signOut() {
  try { await call('DELETE', '/console/api/session'); } catch { /* the cookie may already be gone */ }
  ended('You are signed out.');
}

function ended(note) {
  session = null;
  setCsrf(null);
  expiryNote = note;
  go('/console/signin', true);
}

onSessionExpired(() => { if (session) ended('Your session has ended. Sign in again to continue.'); });

export async function signedIn(s) {
  session = normalise(s);
  setCsrf(session.csrfToken);
  if (session.role === 'operator') {
    // The operator's session lists site ids; GET /v1/sites (operator only) adds their names.
    try {
      const all = await call('GET', '/v1/sites');
      const names = new Map((Array.isArray(all) ? all : all.items || []).map((x) => [x.id, x.name]));
      session.sites = session.sites.map((x) => ({ id: x.id, name: names.get(x.id) || x.id }));
    } catch { /* ids alone still work */ }
  }
  site = session.sites.some((x) => x.id === site) ? site : session.sites[0]?.id || null;
}

async function route() {
  const path = currentPath();
  const params = new URLSearchParams(location.search);
  if (params.get('site') && session?.sites.some((s) => s.id === params.get('site'))) site = params.get('site');
  let screen = screens.find((s) => s.path === path);
  if (!session && path !== 'signin') return go('/console/signin', true);
  if (session && (path === '' || path === 'signin')) return go(href('people'), true);
  if (!screen) screen = screens.find((s) => s.path === 'notfound');
  if (session && !allowed(screen)) screen = screens.find((s) => s.path === 'forbidden');
  document.title = `${screen.title} · ConsentService console`;
  renderNav(path);
  renderSession();
  clear(main);
  const heading = h('h1', { tabindex: '-1', id: 'screen-title' }, screen.title);
  main.append(heading);
  // Focus moves to the new screen's heading, so keyboard and screen-reader users land on it.
  heading.focus();
  const ctx = { site, session, params, main, announce, go, href, link, signedIn, note: expiryNote, isAdmin: isAdmin() };
  expiryNote = null;
  try {
    await screen.render(ctx);
  } catch (e) {
    main.append(h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

window.addEventListener('popstate', route);

(async () => {
  try {
    await signedIn(await call('GET', '/console/api/session'));
  } catch {
    session = null;
  }
  route();
})();
