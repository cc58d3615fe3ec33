// The two pages bench/banner.mjs and bench/banner-trace.mjs compare: a shop page whose head loads
// consent.js, and the same page loading a trivial async script that shows one element. Each page
// records when its element is in the DOM and visible (window.__visibleAt, performance mark 'visible').
import { createServer } from 'node:http';

// Records when the first element matching SELECTOR is in the DOM and visible.
export const watch = (selector) => `<script>
window.__visibleAt = null;
new MutationObserver((_, observer) => {
  const el = document.querySelector(${JSON.stringify(selector)});
  if (el && el.checkVisibility()) { window.__visibleAt = performance.now(); performance.mark('visible'); observer.disconnect(); }
}).observe(document.documentElement, { childList: true, subtree: true, attributes: true });
</script>`;

export const html = (head) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>${head}</head>
<body><h1>Shop</h1><p>${'Products and prices. '.repeat(50)}</p></body></html>`;

const trivialJs = `(function () {
  var show = function () { var d = document.createElement('div'); d.setAttribute('data-trivial', ''); d.textContent = 'Hello'; document.body.appendChild(d); };
  document.readyState == 'loading' ? document.addEventListener('DOMContentLoaded', show) : show();
})();`;

/** The trivial script from its own loopback origin, as consent.js comes from the service's: { server, origin }. */
export async function serveTrivialScript() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'max-age=300' });
    res.end(trivialJs);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}
