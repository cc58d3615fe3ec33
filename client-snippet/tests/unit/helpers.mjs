// A policy shaped like the service's default one, as the config inlines it.
export const config = (overrides = {}) => ({
  siteId: 'site_test',
  api: 'https://consent.example',
  version: 3,
  materialVersion: 2,
  defaultLocale: 'en',
  jurisdictionMode: 'gdpr',
  jurisdiction: 'gdpr',
  consentMaxAgeDays: 395,
  refusalReaskDays: 182,
  purposes: [
    { id: 'necessary', required: true },
    { id: 'analytics', required: false, vendors: [{ name: 'PostHog', cookies: ['ph_*_posthog'] }] },
    { id: 'marketing', required: false },
    { id: 'model_improvement', required: false },
  ],
  texts: { en: {}, de: {}, 'pt-BR': {} },
  ...overrides,
});

export const DAY = 864e5;

/** A Storage look-alike over a Map. */
export function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
    map,
  };
}
