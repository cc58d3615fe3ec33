import { h, field, table, fmtTime, short } from '../dom.js';
import { get, sitePath } from '../api.js';

const METHODS = ['accept_all', 'reject_all', 'custom', 'withdraw', 'gpc', 'api'];
const FILTERS = ['purpose', 'granted', 'method', 'policyVersion', 'from', 'to', 'subjectId'];

/** Date inputs give a day; the API takes an instant (from inclusive, to exclusive: the next day). */
export function dayStart(value, plusDays = 0) {
  if (!value) return '';
  const d = new Date(value + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + plusDays);
  return d.toISOString();
}

/**
 * The ledger with the API's filters, one page at a time (cursor paging: the page never holds more
 * than `limit` records however large the ledger), and the export as a plain link: the browser
 * downloads the stream to disk, the page never holds it.
 */
export async function ledger({ main, site, params, link, href, go, announce }) {
  const v = (k) => params.get(k) || '';
  const form = h('form', { class: 'card grid', id: 'ledger-filters', onsubmit: (e) => {
    e.preventDefault();
    const data = Object.fromEntries([...new FormData(form)].filter(([, x]) => x !== ''));
    go(href('ledger', data));
  } },
  field('Purpose', h('input', { name: 'purpose', value: v('purpose'), autocomplete: 'off' }), 'e.g. analytics'),
  field('Granted', h('select', { name: 'granted' }, h('option', { value: '' }, 'any'),
    h('option', { value: 'true', selected: v('granted') === 'true' }, 'granted'), h('option', { value: 'false', selected: v('granted') === 'false' }, 'refused')), 'with a purpose'),
  field('Method', h('select', { name: 'method' }, h('option', { value: '' }, 'any'), METHODS.map((m) => h('option', { value: m, selected: v('method') === m }, m)))),
  field('Policy version', h('input', { name: 'policyVersion', type: 'number', min: '1', value: v('policyVersion') })),
  field('From (UTC day)', h('input', { name: 'from', type: 'date', value: v('from') })),
  field('To (UTC day, inclusive)', h('input', { name: 'to', type: 'date', value: v('to') })),
  field('Subject id', h('input', { name: 'subjectId', value: v('subjectId'), autocomplete: 'off' })),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')));
  main.append(form);

  const query = {};
  for (const k of FILTERS) if (v(k)) query[k] = v(k);
  if (query.from) query.from = dayStart(query.from);
  if (query.to) query.to = dayStart(query.to, 1);

  const exports = h('div', { class: 'actions', id: 'exports' },
    h('a', { class: 'button secondary', id: 'export-csv', href: sitePath(site, '/consents/export', { ...query, format: 'csv' }), download: '' }, 'Download CSV (all matching)'),
    h('a', { class: 'button secondary', id: 'export-ndjson', href: sitePath(site, '/consents/export', { ...query, format: 'ndjson' }), download: '' }, 'Download NDJSON (all matching)'));
  main.append(h('section', { class: 'card' }, h('h2', null, 'Export'),
    h('p', { class: 'hint' }, 'Streams every matching record straight to a file, however many there are.'), exports));

  const cursor = v('cursor');
  const page = await get(sitePath(site, '/consents', { ...query, cursor, limit: 50 }));
  const rows = page.items.map((r) => [
    link(href('records', { id: r.id }), `#${r.position}`),
    h('time', { datetime: r.recordedAt }, fmtTime(r.recordedAt)),
    r.subjectId ? link(href('people', { q: r.subjectId }), short(r.subjectId, 14)) : 'erased',
    r.method,
    Object.entries(r.purposes).filter(([, g]) => g).map(([k]) => k).join(', ') || 'none',
    String(r.policyVersion),
  ]);
  const filters = Object.fromEntries(FILTERS.filter(v).map((k) => [k, v(k)]));
  // Forward-only cursors (the API's); the browser's Back button returns to earlier pages.
  const pager = h('div', { class: 'actions pager' },
    cursor ? link(href('ledger', filters), 'First page') : null,
    page.nextCursor ? h('a', { href: href('ledger', { ...filters, cursor: page.nextCursor }), id: 'next-page', onclick: (e) => { e.preventDefault(); go(href('ledger', { ...filters, cursor: page.nextCursor })); } }, 'Next page') : null);
  main.append(h('section', { 'aria-labelledby': 'results-title' },
    h('h2', { id: 'results-title' }, 'Records'),
    rows.length ? table(`Records ${cursor ? 'after the previous page' : 'from the start'}, ledger order`, ['Position', 'Time (UTC)', 'Subject', 'Method', 'Granted', 'Policy'], rows, { id: 'records' })
      : h('p', { class: 'note' }, 'No record matches.'),
    pager));
  announce(`${rows.length} records on this page${page.nextCursor ? '; more on the next' : ''}.`);
}
