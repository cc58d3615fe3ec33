// A chart (uPlot, bundled) always beside a table of the same figures: the table is what screen
// readers and keyboards use, the chart is for the eye (so it is aria-hidden).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, table } from './dom.js';

// Dark enough on white for WCAG 2.2 non-text contrast (3:1), and told apart by dash too.
export const COLORS = ['#1f5fbf', '#b3261e', '#1b7f3b', '#8a4b00', '#6b3fa0', '#00707a', '#5b5b5b'];
const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3], [1, 2], [10, 4], [4, 4]];

/**
 * @param {string} id element id of the figure
 * @param {string} title caption
 * @param {string[]} labels x labels (periods)
 * @param {{ label: string, values: (number|null)[] }[]} series
 * @param {(v: number|null) => string} format cell text of a value
 * @param {boolean} axisPercent values are shares (0–1) shown as percentages
 * @param {string} period the header of the table's first column
 */
export function chartFigure(id, title, labels, series, format = (v) => (v === null ? '—' : String(v)), axisPercent = false, period = 'Period') {
  const plot = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const figure = h('figure', { class: 'chart card', id },
    h('figcaption', null, h('h2', null, title)),
    h('div', { class: 'chart-body' },
      plot,
      table(title, [period, ...series.map((s) => s.label)], labels.map((l, i) => [l, ...series.map((s) => format(s.values[i]))]))));
  if (labels.length > 0 && series.length > 0) {
    // Drawn once the figure is in the page, at the width it has there (360 px phones included).
    requestAnimationFrame(() => {
      const width = Math.max(260, Math.min(640, plot.clientWidth || 320));
      const xs = labels.map((_, i) => i);
      // eslint-disable-next-line no-new
      new uPlot({
        width,
        height: 220,
        legend: { show: true },
        // Half a period of room either side, so one day or one version sits in the middle; y from 0.
        scales: {
          x: { time: false, range: () => [-0.5, labels.length - 0.5] },
          y: { range: (_u, _min, max) => (axisPercent ? [0, 1] : [0, Math.max(1, Math.ceil(max * 1.15))]) },
        },
        axes: [
          // Dates shortened to MM-DD on the axis (the table has them in full); ticks at least 56 px apart.
          { space: 56, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(labels[t] ?? '').replace(/^\d{4}-(\d\d-\d\d)$/, '$1') : '')), stroke: '#333', grid: { stroke: '#e3e3e3' } },
          { stroke: '#333', grid: { stroke: '#e3e3e3' }, size: 56, values: (_u, ticks) => ticks.map((t) => (axisPercent ? `${Math.round(t * 100)} %` : String(t))) },
        ],
        series: [{ label: '', value: (_u, v) => labels[v] ?? '' },
          ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], dash: DASHES[i % DASHES.length], width: 2, points: { show: labels.length < 40, size: labels.length < 8 ? 10 : 6, width: 2 } }))],
      }, [xs, ...series.map((s) => s.values)], plot);
    });
  }
  return figure;
}
