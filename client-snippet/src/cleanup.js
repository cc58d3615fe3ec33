/**
 * Clean-up on refusal and withdrawal: the cookies and localStorage keys that the policy names for
 * the vendors of refused purposes are deleted, on a decision and on each page view after the first
 * frame (what was left on another subdomain, or set since).
 */
import { cookieString } from './store.js';

/** Deletes what the vendors of purposes that `granted` refuses keep in document `d` and in localStorage. */
export function clean(d, config, granted) {
  // The names that a refused purpose's vendors claim under `key` ('cookies', 'localStorage'): a
  // pattern is literal text with `*` for any run of characters. The service refuses a policy where
  // two purposes could claim one name, or an optional one the snippet's own (consent_…), so nothing
  // a granted purpose or the snippet keeps can match.
  const doomed = (key, names) => names.filter((k) => config.purposes.some((p) => !granted(p.id)
    && p.vendors?.some((v) => v[key]?.some((x) => RegExp('^' + x.replace(/\W/g, (c) => (c == '*' ? '.*' : '\\' + c)) + '$').test(k)))));
  // A cookie is deleted only with the domain and path it was set with: host-only, then Domain= the
  // host and each parent domain down to two labels, at path / (where trackers set theirs). A public
  // suffix among them (co.uk) costs nothing: the browser refuses a cookie for it (RFC 6265 §5.3).
  // The split leaves the names ("a=1; b=2" → a, b, '').
  for (const k of doomed('cookies', d.cookie.split(/=[^;]*;? */))) {
    for (let h = location.hostname, at; (d.cookie = cookieString(k, '', 0, 0, at)), h.includes('.'); at = h, h = h.slice(h.indexOf('.') + 1));
  }
  try {
    // Called on a decision or after the first frame: localStorage has been touched by then.
    for (const k of doomed('localStorage', Object.keys(localStorage))) localStorage.removeItem(k);
  } catch {
    // Blocked storage: nothing of it to clean.
  }
}
