/**
 * Where decisions go: the service's configured public URL (config.api) when it has one, else where
 * this script was loaded from (…/v1/sites/{id}/consent.js → …). The service never writes a request's
 * Host header into the script, so a forged Host cannot end up in a cached copy.
 * An empty string (no src: the script was inlined) posts to the page's own origin.
 */
export function apiBase(config, script) {
  if (config.api) return config.api;
  const src = script?.src || '';
  const at = src.lastIndexOf('/v1/sites/');
  return at > 0 ? src.slice(0, at) : '';
}
