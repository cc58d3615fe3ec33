import { h, field } from '../dom.js';
import { call } from '../api.js';

/** The key is posted once and exchanged for an HttpOnly cookie; the page keeps no copy of it. */
export async function signin({ main, announce, go, href, signedIn, note }) {
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', id: 'signin-error', role: 'alert' });
  const form = h('form', { class: 'card narrow', onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = '';
    button.disabled = true;
    try {
      const session = await call('POST', '/console/api/session', { key: key.value });
      key.value = '';
      await signedIn(session);
      announce(`Signed in as ${session.role}.`);
      go(href('people'), true);
    } catch (err) {
      error.textContent = err.status === 429 ? 'Too many attempts; wait a minute and try again.' : err.status === 401 || err.status === 403 ? 'That key was not accepted.' : err.message;
      key.focus();
    } finally {
      button.disabled = false;
    }
  } },
  field('Site key (legal or admin)', key, 'The key is exchanged for a session that ends when you sign out or stay idle; it is never stored in this browser.'),
  h('button', { type: 'submit' }, 'Sign in'),
  error);
  const button = form.querySelector('button');
  if (note) main.append(h('p', { class: 'note', id: 'signin-note', role: 'status' }, note));
  main.append(form);
}
