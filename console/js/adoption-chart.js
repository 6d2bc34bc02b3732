// The Adoption tab's chart: devices per hour, stacked by version, drawn as
// SVG. It is one focusable image with a title and a description; the arrow
// keys (or the pointer) move an hour cursor whose figures are read out in a
// live region, so that every number is reachable without seeing the chart.

import { h, svg, newId } from './ui.js';
import { count } from './words.js';

const W = 640;
const H = 240;
const PAD = { left: 48, right: 12, top: 14, bottom: 30 };
const HOUR = 3600 * 1000;

/** The palette's classes (console.css): seven for versions, one for the rest. */
export const SERIES_CLASSES = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' });
const moment = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/**
 * The hours of a window of `sinceHours` ending with the current hour (or
 * the newest hour a point has, should the server's clock be ahead), and
 * each series' devices per hour; an hour without a point is 0.
 * series: [{key, label, className}], key(point) names a point's series.
 */
export function hourly(points, series, sinceHours, keyOf, now = Date.now()) {
  const newest = points.reduce((most, p) => Math.max(most, Date.parse(p.hour)), Math.floor(now / HOUR) * HOUR);
  const first = newest - (sinceHours - 1) * HOUR;
  const hours = Array.from({ length: sinceHours }, (_, i) => first + i * HOUR);
  const values = new Map(series.map((s) => [s.key, new Array(sinceHours).fill(0)]));
  for (const point of points) {
    const i = Math.round((Date.parse(point.hour) - first) / HOUR);
    const row = values.get(keyOf(point));
    if (row && i >= 0 && i < sinceHours) row[i] += point.devices;
  }
  return { hours, series: series.map((s) => ({ ...s, values: values.get(s.key) })) };
}

/** A round top for the axis and its step: 1, 2 or 5 times a power of ten. */
function scale(max) {
  const rough = Math.max(max, 1) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const niceStep = Math.max(1, step);
  return { top: Math.ceil(Math.max(max, 1) / niceStep) * niceStep, step: niceStep };
}

/**
 * The chart of `hours` (start of each hour, ms) and `series` (bottom of the
 * stack first: [{key, label, className, values}]); `period` in words for
 * its title ("last 24 hours").
 */
export function adoptionChart({ hours, series, period }) {
  const n = hours.length;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const totals = hours.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const { top, step } = scale(Math.max(0, ...totals));
  // Each hour is a column from its start to the next hour's: the counts
  // are per hour, not samples at an instant to draw lines between.
  const bw = plotW / n;
  const x = (i) => PAD.left + i * bw;
  const y = (v) => PAD.top + (1 - v / top) * plotH;
  const steps = (level) => level.flatMap((v, i) => [`${x(i).toFixed(1)} ${y(v).toFixed(1)}`, `${x(i + 1).toFixed(1)} ${y(v).toFixed(1)}`]);

  // Each series' band: from the sum of those below it to that plus its own.
  const below = new Array(n).fill(0);
  const bands = series.map((s) => {
    const base = below.slice();
    s.values.forEach((v, i) => { below[i] += v; });
    const upper = steps(below);
    const lower = steps(base).reverse();
    return svg('path', {
      class: `area ${s.className}`,
      d: `M ${upper.join(' L ')} L ${lower.join(' L ')} Z`,
      'data-version': s.key,
      'data-devices': s.values.join(','),
    });
  });

  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  // Every six hours over a day, each midnight over a week (local time).
  const labelled = (ms) => new Date(ms).getHours() % (n > 48 ? 24 : 6) === 0;
  const labelOf = (ms) => (n > 48 ? day : clock).format(new Date(ms));
  const anchor = (i) => (x(i) > W - PAD.right - 24 ? 'end' : 'middle');
  const xLabels = hours.map((ms, i) => ({ ms, i })).filter(({ ms }) => labelled(ms));

  const titleId = newId('chart-title');
  const descId = newId('chart-desc');
  const peak = totals.indexOf(Math.max(...totals));
  const last = n - 1;
  const title = `Devices per version per hour, ${period}`;
  const desc = `A stacked area chart of the distinct devices seen each hour, by the version they had cached: ${
    series.map((s) => s.label).join(', ')}. From ${moment.format(new Date(hours[0]))} to ${moment.format(new Date(hours[last] + HOUR))}; `
    + `the busiest hour, ${moment.format(new Date(hours[peak]))}, had ${count(totals[peak], 'device')}. `
    + 'Use the left and right arrow keys to read each hour; the table beside it has the totals.';

  // Moved by a transform, which the stylesheet animates unless reduced motion is asked for.
  const cursor = svg('rect', { class: 'cursor', x: 0, y: PAD.top, width: bw, height: plotH, hidden: '' });
  const chart = svg('svg', {
    class: 'adoption-chart', id: 'adoption-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', tabindex: '0',
    'aria-labelledby': titleId, 'aria-describedby': descId, 'aria-roledescription': 'chart',
  },
  svg('title', { id: titleId }, title),
  svg('desc', { id: descId }, desc),
  ticks.map((v) => [
    svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
    svg('text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, count(v)),
  ]),
  bands,
  xLabels.map(({ ms, i }) => svg('text', { class: 'axis', x: x(i), y: H - PAD.bottom + 18, 'text-anchor': anchor(i) }, labelOf(ms))),
  cursor);

  const readout = h('p.chart-readout#adoption-readout', { role: 'status' });
  let at = null;

  function place(i) {
    at = Math.max(0, Math.min(last, i));
    cursor.style.transform = `translateX(${x(at)}px)`;
    cursor.removeAttribute('hidden');
    const parts = series.slice().reverse().map((s) => `${s.label}: ${count(s.values[at])}`);
    readout.textContent = `${moment.format(new Date(hours[at]))}: ${count(totals[at], 'device')} (${parts.join('; ')})`;
  }

  chart.addEventListener('keydown', (event) => {
    const page = n > 48 ? 24 : 6;
    const moves = {
      ArrowLeft: () => (at ?? last + 1) - 1,
      ArrowRight: () => (at ?? -1) + 1,
      Home: () => 0,
      End: () => last,
      PageUp: () => (at ?? last) - page,
      PageDown: () => (at ?? 0) + page,
    };
    if (!moves[event.key]) return;
    event.preventDefault();
    place(moves[event.key]());
  });
  chart.addEventListener('pointermove', (event) => {
    const box = chart.getBoundingClientRect();
    if (!box.width) return;
    const px = ((event.clientX - box.left) / box.width) * W;
    place(Math.floor((px - PAD.left) / bw));
  });
  // The newest hour is where a keyboard user starts.
  chart.addEventListener('focus', () => { if (at === null) place(last); });

  return h('figure.adoption-figure', chart, readout);
}
