/** Gated tags: inert until every purpose in their `data-consent` (space-separated) is granted. */
export const SELECTOR = 'script[type="text/plain"][data-consent],iframe[data-consent][data-src]';

export const purposesOf = (el) => (el.getAttribute('data-consent') || '').split(/\s+/).filter(Boolean);

/** The tags of `list` that may run now, in document order. */
export const releasable = (list, has) => list.filter((el) => {
  const ids = purposesOf(el);
  return ids[0] && ids.every(has);
});

/**
 * A function that releases every gated tag whose purposes are granted. Releases are chained, so
 * tags run in document order across calls too: an inline script waits for the external scripts
 * before it, which themselves keep their order with `async = false`.
 */
export function gate(doc, has) {
  const seen = new WeakSet();
  let chain = Promise.resolve();
  return () => {
    const batch = releasable([...doc.querySelectorAll(SELECTOR)].filter((el) => !seen.has(el)), has);
    batch.forEach((el) => seen.add(el));
    if (batch.length) chain = chain.then(() => release(doc, batch));
    return chain;
  };
}

async function release(doc, batch) {
  let loading = [];
  for (const el of batch) {
    if (el.tagName == 'IFRAME') {
      el.src = el.getAttribute('data-src');
      el.removeAttribute('data-src');
      continue;
    }
    const script = doc.createElement('script');
    for (const { name, value } of el.attributes) if (name != 'type') script.setAttribute(name, value);
    // The nonce attribute reads back empty once parsed (nonce hiding); the property keeps it.
    script.nonce = el.nonce;
    if (el.hasAttribute('src')) {
      script.async = false;
      loading.push(new Promise((done) => { script.onload = script.onerror = done; }));
    } else {
      await Promise.all(loading);
      loading = [];
      script.text = el.text;
    }
    el.replaceWith(script);
  }
}
