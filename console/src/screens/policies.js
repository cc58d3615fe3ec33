import { h, field, fmtTime, short } from '../dom.js';
import { get, sitePath } from '../api.js';

/** The English texts, else the first language's. */
const lang = (p) => (p.texts || {}).en || Object.values(p.texts || {})[0] || {};

const purposeLine = (p) => `${p.required ? 'required' : 'optional'}, ${p.legalBasis}; vendors: ${(p.vendors || []).map((v) => v.name).join(', ') || 'none'}`;

/** Two versions side by side; each purpose and text marked added, removed, changed or same. */
export async function policies({ main, site, params, href, go, announce }) {
  const list = await get(sitePath(site, '/policies'));
  if (list.length === 0) {
    main.append(h('p', null, 'No policy yet.'));
    return;
  }
  const last = list[list.length - 1].version;
  const right = Number(params.get('version')) || last;
  const left = Number(params.get('compare')) || Math.max(1, right - 1);
  const pick = (name, value) => h('select', { name }, list.map((p) => h('option', { value: String(p.version), selected: p.version === value },
    `v${p.version} · ${p.publishedAt.slice(0, 10)}${p.material ? ' · material' : ''}`)));
  const form = h('form', { class: 'card grid', id: 'policy-pick', onsubmit: (e) => {
    e.preventDefault();
    const d = new FormData(form);
    go(href('policies', { compare: d.get('compare'), version: d.get('version') }));
  } }, field('Earlier version', pick('compare', left)), field('Later version', pick('version', right)),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Compare')));
  main.append(form);
  const [a, b] = await Promise.all([get(sitePath(site, `/policies/${left}`)), get(sitePath(site, `/policies/${right}`))]);

  const rows = [];
  const ids = [...new Set([...a.purposes.map((p) => p.id), ...b.purposes.map((p) => p.id)])];
  for (const id of ids) {
    const pa = a.purposes.find((p) => p.id === id);
    const pb = b.purposes.find((p) => p.id === id);
    const ta = lang(a).purposes?.[id];
    const tb = lang(b).purposes?.[id];
    const change = !pa ? 'added' : !pb ? 'removed' : JSON.stringify([pa, ta]) !== JSON.stringify([pb, tb]) ? 'changed' : 'same';
    rows.push(h('tr', { class: change },
      h('th', { scope: 'row' }, id, h('span', { class: 'tag ' + change }, change)),
      h('td', null, pa ? [purposeLine(pa), h('br'), ta?.title || ''] : '—'),
      h('td', null, pb ? [purposeLine(pb), h('br'), tb?.title || ''] : '—')));
  }
  // Texts per language (the banner's words are part of what was consented to).
  const languages = [...new Set([...Object.keys(a.texts || {}), ...Object.keys(b.texts || {})])];
  for (const language of languages) {
    for (const key of ['title', 'description', 'acceptAll', 'rejectAll', 'preferences', 'save']) {
      const va = a.texts?.[language]?.[key];
      const vb = b.texts?.[language]?.[key];
      const change = va === undefined ? 'added' : vb === undefined ? 'removed' : va === vb ? 'same' : 'changed';
      rows.push(h('tr', { class: change }, h('th', { scope: 'row' }, `${language} text: ${key}`, h('span', { class: 'tag ' + change }, change)),
        h('td', { class: 'wrap' }, va || '—'), h('td', { class: 'wrap' }, vb || '—')));
    }
  }
  if (a.privacyPolicyUrl !== b.privacyPolicyUrl) {
    rows.push(h('tr', { class: 'changed' }, h('th', { scope: 'row' }, 'privacy policy URL', h('span', { class: 'tag changed' }, 'changed')),
      h('td', { class: 'wrap' }, a.privacyPolicyUrl || '—'), h('td', { class: 'wrap' }, b.privacyPolicyUrl || '—')));
  }
  const head = (p) => h('th', { scope: 'col' }, `Version ${p.version}`, h('br'), h('span', { class: 'hint' },
    `${fmtTime(p.publishedAt)} · ${p.material ? 'material: everyone is asked again' : 'not material'} · `, h('code', null, short(p.contentHash, 10))));
  main.append(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Policy comparison' },
    h('table', { id: 'policy-diff' },
      h('caption', null, `Version ${left} beside version ${right}: ${rows.filter((r) => !r.classList.contains('same')).length} differences; version ${right} is ${b.material ? 'material' : 'not material'}`),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Item'), head(a), head(b))),
      h('tbody', null, rows))));
  announce(`Comparing version ${left} with version ${right}.`);
}
