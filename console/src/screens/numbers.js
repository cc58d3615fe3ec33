import { h, field, table } from '../dom.js';
import { get, sitePath } from '../api.js';
import { chartFigure } from '../chart.js';

const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
const isoDay = (d) => d.toISOString().slice(0, 10);

/** The figures per day or per ISO week, keyed by its Monday (each subject's latest decision within the group). */
async function periods(site, from, to, by) {
  const stats = await get(sitePath(site, '/stats', { from: from.toISOString(), to: to.toISOString(), groupBy: by }));
  return stats.groups;
}

export async function numbers({ main, site, params, href, go, announce }) {
  const today = new Date(isoDay(new Date()) + 'T00:00:00Z');
  const fromDay = params.get('from') || isoDay(new Date(today.getTime() - 29 * 864e5));
  const toDay = params.get('to') || isoDay(today);
  const by = params.get('by') === 'week' ? 'week' : 'day';
  const form = h('form', { class: 'card grid', id: 'numbers-form', onsubmit: (e) => {
    e.preventDefault();
    go(href('numbers', Object.fromEntries(new FormData(form))));
  } },
  field('From (UTC day)', h('input', { type: 'date', name: 'from', value: fromDay, required: true })),
  field('To (UTC day, inclusive)', h('input', { type: 'date', name: 'to', value: toDay, required: true })),
  field('Group by', h('select', { name: 'by' }, h('option', { value: 'day', selected: by === 'day' }, 'day'), h('option', { value: 'week', selected: by === 'week' }, 'week'))),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show')));
  main.append(form);

  const from = new Date(fromDay + 'T00:00:00Z');
  const to = new Date(new Date(toDay + 'T00:00:00Z').getTime() + 864e5);
  if (!(from < to)) throw new Error('"To" must not be before "From".');
  const [groups, byVersion, policyList, reconsent] = await Promise.all([
    periods(site, from, to, by),
    get(sitePath(site, '/stats', { from: from.toISOString(), to: to.toISOString(), groupBy: 'policyVersion' })),
    get(sitePath(site, '/policies')),
    get(sitePath(site, '/stats/reconsent')),
  ]);
  const labels = groups.map((g) => g.key);
  const periodHead = by === 'week' ? 'Week from (Monday)' : 'Day';
  const purposes = [...new Set(groups.flatMap((g) => Object.keys(g.purposes)))].sort();
  const methods = [...new Set(groups.flatMap((g) => Object.keys(g.methods)))].sort();
  const total = byVersion.total;

  main.append(h('p', { class: 'lead', id: 'numbers-summary' },
    `${total.records} decisions by ${total.subjects} people between ${fromDay} and ${toDay}; GPC signals: ${pct(total.records ? (total.methods.gpc || 0) / total.records : null)}.`));
  main.append(
    chartFigure('chart-optin', 'Opt-in rate per purpose', labels,
      purposes.map((p) => ({ label: p, values: groups.map((g) => (g.purposes[p]?.optInRate ?? null)) })), pct, true, periodHead),
    chartFigure('chart-methods', 'How people decided (method mix, records)', labels,
      methods.map((m) => ({ label: m, values: groups.map((g) => g.methods[m] || 0) })), undefined, false, periodHead),
    chartFigure('chart-gpc', 'Share of decisions by Global Privacy Control', labels,
      [{ label: 'GPC share', values: groups.map((g) => (g.records ? (g.methods.gpc || 0) / g.records : null)) }], pct, true, periodHead));

  // Re-consent after material versions: of the people who had decided before each one, how many
  // decided again under it (or later).
  const versions = reconsent.versions || [];
  main.append(versions.length === 0
    ? h('section', { class: 'card', id: 'reconsent-rate' }, h('h2', null, 'Re-consent after material versions'),
      h('p', { class: 'note' }, 'No material version after the first yet.'))
    : chartFigure('reconsent-rate', 'Re-consent after material versions', versions.map((v) => `v${v.version}`),
      [{ label: 'asked again', values: versions.map((v) => v.due) }, { label: 'decided again', values: versions.map((v) => v.reconsented) }], undefined, false, 'Version'));
  if (versions.length > 0) {
    main.querySelector('#reconsent-rate .table-wrap').after(table('Re-consent rate per material version', ['Version', 'Published', 'Asked again', 'Decided again', 'Rate'],
      versions.map((v) => [`v${v.version}`, String(v.publishedAt).slice(0, 10), String(v.due), String(v.reconsented), pct(v.rate)])));
  }

  // Who decided under which version in the period, and how.
  const material = new Map(policyList.map((p) => [p.version, p]));
  const versionPurposes = [...new Set(byVersion.groups.flatMap((g) => Object.keys(g.purposes)))].sort();
  main.append(h('section', { class: 'card', id: 'reconsent' },
    h('h2', null, 'Decisions per policy version'),
    h('p', { class: 'hint' }, 'People whose latest decision in the period was made under each version. A material version asks everyone again.'),
    table('Decisions per policy version', ['Version', 'Material', 'Published', 'People', ...versionPurposes.map((p) => `${p} opt-in`)],
      byVersion.groups.map((g) => {
        const p = material.get(Number(g.key));
        return [`v${g.key}`, p ? (p.material ? 'yes' : 'no') : '?', p ? p.publishedAt.slice(0, 10) : '', String(g.subjects),
          ...versionPurposes.map((id) => pct(g.purposes[id]?.optInRate))];
      }))));
  announce(`Numbers for ${labels.length} ${by === 'day' ? 'days' : 'weeks'} shown.`);
}
