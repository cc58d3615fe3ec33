import { h, field, fmtTime } from '../dom.js';
import { get, sitePath } from '../api.js';

/**
 * How a person can be looked up. Today: the subject id the snippet minted. HOOK for identified
 * users (issue 15, identity): add `{ id: 'user', label: 'User id', resolve: async (site, value) =>
 * subjectIdsFor(value) }` here; `resolve` returns the subject ids to show, and the form grows a
 * choice between the finders by itself.
 */
export const finders = [
  { id: 'subject', label: 'Subject id', resolve: async (_site, value) => [value] },
];

export async function people(ctx) {
  const { main, site, params, link, href, announce, go } = ctx;
  const by = params.get('by') || 'subject';
  const finder = finders.find((f) => f.id === by) || finders[0];
  const input = h('input', { name: 'q', value: params.get('q') || '', required: true, autocomplete: 'off', spellcheck: 'false' });
  const choose = finders.length > 1
    ? field('Find by', h('select', { name: 'by' }, finders.map((f) => h('option', { value: f.id, selected: f === finder }, f.label))))
    : null;
  const form = h('form', { class: 'card row', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(form);
    go(href('people', { by: data.get('by') || 'subject', q: String(data.get('q')).trim() }));
  } }, choose, field(finder.label, input), h('button', { type: 'submit' }, 'Find'));
  const results = h('div', { id: 'person' });
  main.append(form, results);
  const q = params.get('q');
  if (!q) return;
  const ids = await finder.resolve(site, q);
  for (const subjectId of ids) {
    let history;
    try {
      history = await get(sitePath(site, `/subjects/${encodeURIComponent(subjectId)}/history`));
    } catch (e) {
      const text = e.status === 404 ? `No records for ${subjectId} on this site.` : e.message;
      results.append(h('p', { class: e.status === 404 ? 'note' : 'error' }, text));
      announce(text);
      continue;
    }
    const state = await get(sitePath(site, `/subjects/${encodeURIComponent(subjectId)}/consent`)).catch(() => null);
    results.append(personView(ctx, subjectId, history.records, state));
    announce(`${history.records.length} records for ${subjectId}.`);
  }
}

function purposeLists(purposes) {
  const granted = Object.entries(purposes || {}).filter(([, v]) => (typeof v === 'object' ? v.granted : v)).map(([k]) => k);
  const refused = Object.entries(purposes || {}).filter(([, v]) => !(typeof v === 'object' ? v.granted : v)).map(([k]) => k);
  return { granted, refused };
}

function personView({ link, href }, subjectId, records, state) {
  const current = state ? purposeLists(state.purposes) : null;
  return h('section', { class: 'person', 'aria-labelledby': 'person-title' },
    h('h2', { id: 'person-title' }, 'Subject ', h('code', null, subjectId)),
    state && h('div', { class: 'card state', id: 'current-state' },
      h('h3', null, 'Current state'),
      h('dl', { class: 'pairs' },
        h('dt', null, 'Granted'), h('dd', null, current.granted.join(', ') || 'none'),
        h('dt', null, 'Refused'), h('dd', null, current.refused.join(', ') || 'none'),
        h('dt', null, 'Decided under policy'), h('dd', null, state.policyVersion ? `version ${state.policyVersion}` : '—', ` (current: ${state.currentPolicyVersion})`),
        h('dt', null, 'Re-consent due'), h('dd', { id: 're-consent', class: state.needsReconsent ? 'warn' : 'ok' }, state.needsReconsent ? 'Yes: ask again' : 'No'))),
    h('div', { class: 'actions' },
      link(href('requests', { subject: subjectId }), 'Access export or erasure for this person')),
    h('h3', null, 'Timeline (oldest first)'),
    h('ol', { class: 'timeline', id: 'timeline' }, records.map((r) => {
      const p = purposeLists(r.purposes);
      return h('li', { class: 'card', 'data-record': r.id },
        h('p', { class: 'when' }, h('time', { datetime: r.recordedAt }, fmtTime(r.recordedAt)), ' · ', h('strong', null, r.method.replace('_', ' '))),
        h('dl', { class: 'pairs' },
          h('dt', null, 'Granted'), h('dd', null, p.granted.join(', ') || 'none'),
          h('dt', null, 'Refused'), h('dd', null, p.refused.join(', ') || 'none'),
          h('dt', null, 'Policy'), h('dd', null, link(href('policies', { version: r.policyVersion }), `version ${r.policyVersion}`)),
          h('dt', null, 'Source'), h('dd', { class: 'wrap' }, r.source ? [r.source.url, r.source.locale, r.source.jurisdiction].filter(Boolean).join(' · ') : 'API'),
          h('dt', null, 'Position'), h('dd', null, `#${r.position} in the ledger, #${r.sequence} of this subject`)),
        link(href('records', { id: r.id }), 'Prove this decision'));
    })));
}
