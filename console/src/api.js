// Every call the console makes: the public API with the session cookie, the CSRF token on each
// state-changing request, RFC 9457 problems turned into readable errors, and a 401 anywhere ending
// the session in the page too.

let csrf = null;
let onExpired = () => {};

export const setCsrf = (token) => { csrf = token; };
export const onSessionExpired = (f) => { onExpired = f; };

export class ApiError extends Error {
  constructor(status, problem) {
    const fields = problem && problem.errors
      ? Object.entries(problem.errors).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`).join('; ')
      : '';
    super([problem && (problem.detail || problem.title), fields].filter(Boolean).join(' — ') || `The service answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }
}

export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (response.status === 401 && !path.startsWith('/console/api/session')) onExpired();
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

export const get = (path) => call('GET', path);

/** `/v1/sites/{site}` + rest, with a query string from the non-empty members of `query`. */
export function sitePath(site, rest, query) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') qs.set(k, v);
  const s = qs.toString();
  return `/v1/sites/${encodeURIComponent(site)}${rest}${s ? '?' + s : ''}`;
}
