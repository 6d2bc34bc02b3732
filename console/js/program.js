// A program's page: its heading, the section links, and the live
// subscriptions that stay open while the user moves between the sections.

import { graphql } from './api.js';
import * as live from './live.js';
import { session } from './session.js';
import { h, setTitle, focusHeading, markCurrent } from './ui.js';
import { TYPE, CHANNEL } from './words.js';
import { createVersionsTab } from './versions.js';
import { createHistoryTab } from './history.js';
import { createLaunchTab } from './launch-preview.js';
import { createAdoptionTab } from './adoption.js';

// The versions are the Versions tab's, read page by page.
const QUERY = `query Program($id: ID!) {
  miniProgram(id: $id) {
    id name type channel updateMode updateModeEditable updateModeLocks revision minimumVersion
    scheduledUpdateModes { id mode startsAt endsAt status revertTo createdBy note }
  }
}`;

const MODE_CHANGED = `subscription UpdateModeChanged($id: ID!) {
  updateModeChanged(miniProgramId: $id) { previousMode mode changedBy changedAt revision }
}`;

// Which version changed; the tab reads it again, so that what it shows is
// never older than what it showed (an event may come after our own answer).
const VERSION_CHANGED = `subscription VersionChanged($id: ID!) {
  versionChanged(miniProgramId: $id) { id }
}`;

const TABS = [
  ['versions', 'Versions', createVersionsTab],
  ['adoption', 'Adoption', createAdoptionTab, 'READ'],
  ['history', 'History', createHistoryTab],
  ['launch-preview', 'Launch preview', createLaunchTab, 'READ'],
];

export function openProgram(main, { id, tab }) {
  const heading = h('h1', 'Mini program');
  const meta = h('p.meta');
  const errorEl = h('p.error', { role: 'alert' });
  const links = h('ul');
  const panel = h('div.tab-panel');
  main.replaceChildren(h('div.program-head', h('p.crumbs', h('a', { href: '#/programs' }, 'Mini programs')), heading, meta),
    h('nav.tabs', { 'aria-label': 'Program sections' }, links), errorEl, panel);
  focusHeading(main);

  const base = `#/programs/${encodeURIComponent(id)}`;
  const available = TABS.filter(([, , , needs]) => !needs || session.may(needs));
  links.replaceChildren(...available.map(([key, label]) => h('li', h('a', { href: `${base}/${key}`, 'data-tab': key }, label))));

  const ctx = { id, program: null, reload, views: {} };
  let current = null;
  let reading = null;
  let left = false;

  async function reload() {
    // Reads that overlap (two subscriptions resyncing at once) share one request.
    reading ||= graphql(QUERY, { id }).finally(() => { reading = null; });
    let data;
    try {
      data = await reading;
      if (left) return null; // an answer that arrives after the user moved on
    } catch (error) {
      errorEl.textContent = `The mini program could not be loaded: ${error.message}`;
      return null;
    }
    if (!data.miniProgram) {
      stop();
      setTitle('Not found');
      main.replaceChildren(h('h1', 'Mini program not found'),
        h('p', 'There is no mini program with this id in your workspace. ', h('a', { href: '#/programs' }, 'Back to the mini programs.')));
      focusHeading(main);
      return null;
    }
    errorEl.textContent = '';
    const program = data.miniProgram;
    ctx.program = program;
    heading.textContent = program.name;
    meta.textContent = `${TYPE[program.type]} mini program · ${CHANNEL[program.channel]} channel`;
    title();
    for (const view of Object.values(ctx.views)) view.update?.(program);
    return program;
  }

  function title() {
    const label = available.find(([key]) => key === current)?.[1];
    setTitle(ctx.program?.name, label);
  }

  function show({ tab: wanted }) {
    const entry = available.find(([key]) => key === wanted) || available[0];
    current = entry[0];
    ctx.views[current] ||= entry[2](ctx);
    panel.replaceChildren(ctx.views[current].el);
    if (ctx.program) ctx.views[current].update?.(ctx.program);
    markCurrent(links.querySelectorAll('a'), (a) => a.dataset.tab === current);
    title();
  }

  ctx.views.versions = createVersionsTab(ctx);
  const resync = () => reload();
  const error = (e) => { errorEl.textContent = `Live updates are unavailable: ${e.message}`; };
  const unsubscribers = [
    live.subscribe(MODE_CHANGED, { id }, {
      next: ({ updateModeChanged }) => {
        for (const view of Object.values(ctx.views)) view.modeChanged?.(updateModeChanged);
      },
      resync,
      error,
    }),
    live.subscribe(VERSION_CHANGED, { id }, {
      next: ({ versionChanged }) => ctx.views.versions.versionChanged(versionChanged),
      resync,
      error,
    }),
  ];

  function stop() {
    while (unsubscribers.length) unsubscribers.pop()();
  }

  show({ tab });
  reload();
  return {
    show,
    leave() {
      left = true;
      stop();
      for (const view of Object.values(ctx.views)) view.leave?.();
    },
  };
}
