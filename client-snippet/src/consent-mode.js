/** Google Consent Mode v2 from the purposes: analytics → analytics_storage; marketing → the three ad signals. */
export function consentMode(has) {
  const m = has('marketing') ? 'granted' : 'denied';
  return { ad_storage: m, analytics_storage: has('analytics') ? 'granted' : 'denied', ad_user_data: m, ad_personalization: m };
}

/** `gtag(...)` as Google defines it, created when the page has none yet, so the calls queue in dataLayer. */
export function gtag(w, ...args) {
  w.dataLayer = w.dataLayer || [];
  // Google's tag reads Arguments objects from dataLayer, not arrays.
  (w.gtag || (w.gtag = function () { w.dataLayer.push(arguments); }))(...args);
}
