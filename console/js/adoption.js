// The Adoption tab: which versions devices run, counted from their launch
// requests (check-ins) over the last 24 hours or 7 days: the chart of
// devices per hour beside the table of each version's totals, and the
// share on the newest release in words. Figures are as of the servers'
// last flush, so the tab says when that was and reads again on Refresh.

import { graphql } from './api.js';
import { h, say, busy, momentEl } from './ui.js';
import { count, percent, statusWords, PERIOD } from './words.js';
import { adoptionChart, hourly, SERIES_CLASSES } from './adoption-chart.js';

const QUERY = `query Adoption($id: ID!, $hours: Int) {
  miniProgram(id: $id) {
    adoption(sinceHours: $hours) { checkIns devices updatedAt versions { version checkIns devices share } }
    adoptionSeries(sinceHours: $hours) { hour version devices }
    newestRelease: versions(first: 1, status: [GRAY_RELEASE, FULL_RELEASE]) { nodes { version status grayPercentage } }
  }
}`;

const PERIODS = [24, 168];
const FIRST_OPENS = 'First opens (nothing cached)';
// Seven versions get a colour each; the rest share the eighth.
const OTHERS = '(other)';

const versionKey = (version) => version ?? '';

/** MAJOR.MINOR.PATCH, compared by number; first opens below every version. */
function olderFirst(a, b) {
  if (a === null || b === null) return (a === null ? -1 : 0) - (b === null ? -1 : 0);
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

export function createAdoptionTab(ctx) {
  let hours = PERIODS[0];
  let asked = 0;
  const periodButtons = PERIODS.map((period) => h(`button.secondary#adoption-period-${period}`, {
    type: 'button', 'aria-pressed': String(period === hours), onclick: () => choose(period),
  }, period === 24 ? '24 hours' : '7 days'));
  const refresh = h('button.secondary#adoption-refresh', { type: 'button', onclick: () => busy(refresh, load) }, 'Refresh');
  const summary = h('p.adoption-summary#adoption-summary');
  const updated = h('p.hint#adoption-updated');
  const errorEl = h('p.error#adoption-error', { role: 'alert' });
  const empty = h('p.empty#adoption-empty', { hidden: true });
  const figure = h('div.adoption-chart-wrap');
  const body = h('tbody');
  const foot = h('tfoot');
  const caption = h('caption');
  const table = h('table.stack.adoption-table#adoption-table', caption,
    h('thead', h('tr', ['Version', 'Devices', 'Share', 'Check-ins'].map((t) => h('th', { scope: 'col' }, t)))),
    body, foot);
  const figures = h('div.adoption-figures', { hidden: true }, figure, h('div.table-wrap', table));
  const el = h('section.adoption', { 'aria-labelledby': 'adoption-heading', 'aria-busy': 'false' },
    h('h2#adoption-heading', 'Adoption'),
    h('p.hint', 'Every cold start of this mini program in a super app asks for a launch answer; each answer is a check-in of the version the device had cached.'),
    h('div.actions.adoption-controls',
      h('div.segmented', { role: 'group', 'aria-label': 'Period' }, periodButtons), refresh),
    errorEl, summary, updated, empty, figures,
    h('p.hint', 'Devices are distinct device ids, estimated (exact for small counts, within 3% from 1,000 up); a device that updated within the period counts under each version it ran.'));

  function choose(period) {
    hours = period;
    for (const [i, button] of periodButtons.entries()) button.setAttribute('aria-pressed', String(PERIODS[i] === period));
    load();
  }

  /** Reads the period shown; only the answer to the latest read is shown. */
  async function load() {
    const mine = ++asked;
    const period = hours;
    el.setAttribute('aria-busy', 'true');
    try {
      const { miniProgram } = await graphql(QUERY, { id: ctx.id, hours: period });
      if (mine !== asked || !miniProgram) return;
      say(errorEl, '');
      render(miniProgram, period);
    } catch (error) {
      if (mine === asked) say(errorEl, `The adoption figures could not be loaded: ${error.message}`);
    } finally {
      if (mine === asked) el.setAttribute('aria-busy', 'false');
    }
  }

  function render({ adoption, adoptionSeries, newestRelease }, period) {
    const words = PERIOD[period];
    updated.replaceChildren(...(adoption.updatedAt ? ['Figures as of ', momentEl(adoption.updatedAt), '.'] : []));
    if (!adoption.devices) {
      figures.hidden = true;
      say(summary, '');
      empty.hidden = false;
      say(empty, `No device has checked in during the ${words}. Devices show here once a super app asks for this mini program's launch answer (GET /v1/launch/${ctx.id}); the servers add them up every few seconds.`);
      return;
    }
    empty.hidden = true;
    figures.hidden = false;
    say(summary, newestWords(adoption, newestRelease.nodes[0], words));

    const versions = adoption.versions;
    const coloured = versions.slice(0, SERIES_CLASSES.length - (versions.length > SERIES_CLASSES.length ? 1 : 0));
    const classOf = new Map(coloured.map((v, i) => [versionKey(v.version), SERIES_CLASSES[i]]));
    const rest = versions.length > coloured.length ? SERIES_CLASSES[SERIES_CLASSES.length - 1] : null;
    const series = coloured.slice().sort((a, b) => olderFirst(a.version, b.version)).map((v) => ({
      key: versionKey(v.version), label: v.version ?? FIRST_OPENS, className: classOf.get(versionKey(v.version)),
    }));
    if (rest) series.splice(series[0]?.key === '' ? 1 : 0, 0, { key: OTHERS, label: 'Other versions', className: rest });
    const keyOf = (point) => (classOf.has(versionKey(point.version)) ? versionKey(point.version) : OTHERS);
    figure.replaceChildren(adoptionChart({ ...hourly(adoptionSeries, series, period, keyOf), period: words }));

    caption.textContent = `Devices and check-ins per cached version, ${words}, most devices first`;
    body.replaceChildren(...versions.map((v) => h('tr', { 'data-version': versionKey(v.version) },
      h('th', { scope: 'row', 'data-label': 'Version' },
        h('span', { class: `swatch ${classOf.get(versionKey(v.version)) || rest}`, 'aria-hidden': 'true' }),
        v.version ?? FIRST_OPENS),
      h('td.devices', { 'data-label': 'Devices' }, count(v.devices)),
      h('td.share', { 'data-label': 'Share' }, percent(v.share)),
      h('td.check-ins', { 'data-label': 'Check-ins' }, count(v.checkIns)))));
    foot.replaceChildren(h('tr.total',
      h('th', { scope: 'row', 'data-label': 'Version' }, 'All devices'),
      h('td.devices', { 'data-label': 'Devices' }, count(adoption.devices)),
      h('td.share', { 'data-label': 'Share' }, percent(1)),
      h('td.check-ins', { 'data-label': 'Check-ins' }, count(adoption.checkIns))));
  }

  return {
    el,
    // When the tab is shown and whenever the program is read again.
    update() {
      if (el.isConnected) load();
    },
  };
}

function newestWords(adoption, newest, words) {
  if (!newest) return `No version is released yet; ${count(adoption.devices, 'device')} checked in during the ${words}.`;
  const on = adoption.versions.find((v) => v.version === newest.version);
  const release = `the newest release, ${newest.version} (${statusWords(newest)})`;
  if (!on) return `None of the ${count(adoption.devices, 'device')} seen in the ${words} runs ${release} yet.`;
  return `${percent(on.share)} of the devices seen in the ${words} (${count(on.devices)} of ${count(adoption.devices)}) run ${release}.`;
}
