import { h, field, table, fmtTime } from '../dom.js';
import { call, get, sitePath } from '../api.js';

export async function keys({ main, site, announce }) {
  const listBox = h('div', { id: 'key-list' });
  const shown = h('div', { id: 'new-key', 'aria-live': 'polite' });
  const load = async () => {
    const list = await get(sitePath(site, '/keys'));
    listBox.replaceChildren(table('Keys of this site (secrets are never shown again)', ['Id', 'Role', 'Label', 'Hint', 'Created', 'Revoked', ''],
      list.map((k) => [k.id, k.role, k.label || '', k.hint, fmtTime(k.createdAt), k.revokedAt ? fmtTime(k.revokedAt) : 'active',
        k.revokedAt ? '' : h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke key ${k.id}`, onclick: async () => {
          if (!window.confirm(`Revoke key ${k.id}? Requests with it are refused from now on.`)) return;
          await call('DELETE', sitePath(site, `/keys/${encodeURIComponent(k.id)}`));
          announce(`Key ${k.id} revoked.`);
          await load();
        } }, 'Revoke')])));
  };
  const form = h('form', { class: 'card grid', id: 'issue-key', onsubmit: async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    try {
      const k = await call('POST', sitePath(site, '/keys'), { role: d.get('role'), label: d.get('label') || null });
      const secret = h('input', { readonly: true, value: k.key, id: 'new-key-secret', class: 'secret' });
      shown.replaceChildren(h('div', { class: 'result verified' },
        h('p', null, `New ${k.role} key ${k.id}. Copy it now: it is shown only once.`),
        field('Secret', secret),
        h('button', { type: 'button', class: 'secondary', onclick: () => { secret.select(); navigator.clipboard?.writeText(k.key); announce('Copied.'); } }, 'Copy')));
      secret.focus();
      secret.select();
      form.reset();
      await load();
    } catch (err) {
      shown.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
    }
  } },
  field('Role', h('select', { name: 'role' }, ['check', 'legal', 'admin'].map((r) => h('option', { value: r }, r)))),
  field('Label', h('input', { name: 'label', maxlength: '100', autocomplete: 'off' })),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Issue key')));
  main.append(h('h2', null, 'Issue a key'), form, shown, h('h2', null, 'Keys'), listBox);
  await load();
}

const NUMBERS = [
  ['consentMaxAgeDays', 'Consent lasts (days)'],
  ['refusalReaskDays', 'Ask again after a refusal (days)'],
  ['retentionDays', 'Keep records (days)'],
  ['auditRetentionDays', 'Keep audit events (days)'],
];

export async function settings({ main, site, announce }) {
  const s = await get(sitePath(site, ''));
  const result = h('div', { id: 'settings-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'card grid', id: 'site-settings', onsubmit: async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const body = {
      name: d.get('name'),
      allowedOrigins: String(d.get('allowedOrigins')).split(/\s+/).filter(Boolean),
      defaultLocale: d.get('defaultLocale'),
      jurisdictionMode: d.get('jurisdictionMode'),
      ...Object.fromEntries(NUMBERS.map(([k]) => [k, Number(d.get(k))])),
    };
    try {
      await call('PATCH', sitePath(site, ''), body);
      result.replaceChildren(h('p', { class: 'result verified' }, 'Saved.'));
      announce('Site settings saved.');
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
    }
  } },
  field('Name', h('input', { name: 'name', value: s.name, required: true })),
  field('Allowed origins', h('textarea', { name: 'allowedOrigins', rows: '3' }, s.allowedOrigins.join('\n')), 'One per line, e.g. https://shop.example'),
  field('Default locale', h('input', { name: 'defaultLocale', value: s.defaultLocale })),
  field('Jurisdiction', h('select', { name: 'jurisdictionMode' }, ['gdpr', 'ccpa', 'auto'].map((m) => h('option', { value: m, selected: s.jurisdictionMode === m }, m)))),
  NUMBERS.map(([k, label]) => field(label, h('input', { name: k, type: 'number', min: '1', value: String(s[k]) }))),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')));
  main.append(h('p', { class: 'hint' }, `Site ${s.id}, created ${fmtTime(s.createdAt)}, changed ${fmtTime(s.updatedAt)}.`), form, result);
}

export async function audit({ main, site, params, href, go, announce }) {
  const v = (k) => params.get(k) || '';
  const filters = Object.fromEntries(['action', 'keyId', 'outcome', 'from', 'to'].filter(v).map((k) => [k, v(k)]));
  const query = { ...filters };
  if (query.from) query.from = new Date(query.from + 'T00:00:00Z').toISOString();
  if (query.to) query.to = new Date(new Date(query.to + 'T00:00:00Z').getTime() + 864e5).toISOString();
  const form = h('form', { class: 'card grid', id: 'audit-filters', onsubmit: (e) => {
    e.preventDefault();
    go(href('audit', Object.fromEntries([...new FormData(form)].filter(([, x]) => x !== ''))));
  } },
  field('Action', h('input', { name: 'action', value: v('action'), autocomplete: 'off' }), 'e.g. consents.query'),
  field('Key id', h('input', { name: 'keyId', value: v('keyId'), autocomplete: 'off' })),
  field('Outcome (HTTP status)', h('input', { name: 'outcome', type: 'number', value: v('outcome') })),
  field('From (UTC day)', h('input', { name: 'from', type: 'date', value: v('from') })),
  field('To (UTC day, inclusive)', h('input', { name: 'to', type: 'date', value: v('to') })),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search'),
    h('a', { class: 'button secondary', id: 'audit-export', href: sitePath(site, '/audit/logs/export', query), download: '' }, 'Download NDJSON')));
  main.append(form);
  const page = await get(sitePath(site, '/audit/logs', { ...query, cursor: v('cursor'), limit: 50 }));
  main.append(table('Audit events, newest first', ['Time (UTC)', 'Action', 'Outcome', 'Key', 'Role', 'Request'],
    page.items.map((a) => [fmtTime(a.at), a.deleted ? 'deleted' : (a.action || `${a.method} ${a.path}`), a.outcome == null ? '' : String(a.outcome), a.keyId || '', a.role || '', a.requestId]), { id: 'audit-table' }),
  h('div', { class: 'actions pager' },
    v('cursor') ? h('a', { href: href('audit', filters), onclick: (e) => { e.preventDefault(); go(href('audit', filters)); } }, 'First page') : null,
    page.nextCursor ? h('a', { href: href('audit', { ...filters, cursor: page.nextCursor }), id: 'audit-next', onclick: (e) => { e.preventDefault(); go(href('audit', { ...filters, cursor: page.nextCursor })); } }, 'Next page') : null));
  announce(`${page.items.length} audit events on this page.`);
}
