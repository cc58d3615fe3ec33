import { SUBJECT_ID } from './ids.js';

const DAY = 864e5;

/**
 * The visitor's decision as kept in the first-party cookie `consent_<siteId>`: base64 of
 * {s: subject id, v: policy version, p: {purpose: granted}, m: method, t: epoch ms}.
 */
export const encode = ({ s, v, p, m, t }) => btoa(JSON.stringify({ s, v, p, m, t }));

/** The decoded decision, or null for anything that is not one (a cookie can be edited by hand). */
export function decode(value) {
  try {
    const d = JSON.parse(atob(value));
    return SUBJECT_ID.test(d.s) && Number.isInteger(d.v) && d.p && typeof d.p == 'object'
      && typeof d.t == 'number' && typeof d.m == 'string' ? d : null;
  } catch {
    return null;
  }
}

/**
 * The decision in the first cookie named `name`, or null (document.cookie separates cookies with
 * "; "). No such cookie decodes undefined, which is no decision either.
 */
export const readCookie = (cookies, name) => decode(('; ' + cookies).split('; ' + name + '=')[1]?.split(';')[0]);

/** Every optional purpose refused: kept only `refusalReaskDays`, then asked again (CNIL). */
export const refusedAll = (config, p) => config.purposes.every((x) => x.required || !p[x.id]);

export const lifetimeDays = (config, p) => (refusedAll(config, p) ? config.refusalReaskDays : config.consentMaxAgeDays);

export const cookieString = (name, value, days, secure, domain) =>
  `${name}=${value}; Max-Age=${days * 86400}; Path=/; SameSite=Lax${secure ? '; Secure' : ''}${domain ? '; Domain=' + domain : ''}`;

/**
 * Whether the visitor must be asked (again): no decision, one older than its lifetime, or one
 * given to a version before the latest material one (new purposes or vendors).
 */
export const isStale = (config, d, now) =>
  !d || d.v < config.materialVersion || now - d.t > lifetimeDays(config, d.p) * DAY;
