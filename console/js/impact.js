// What a change would do, before it is confirmed: the devices seen in the
// last 24 hours and what the Update Mode or Minimum version dialog's choice
// would make them do. Read anew whenever the choice changes; a failure is
// said in its place and never holds the dialog up.

import { graphql } from './api.js';
import { h, say } from './ui.js';
import { count, percent, WOULD } from './words.js';

const UPDATE_MODE = `query UpdateModeImpact($id: ID!, $mode: UpdateMode!) {
  updateModeImpact(miniProgramId: $id, mode: $mode, sinceHours: 24) { devices byAction { action devices } }
}`;

const MINIMUM_VERSION = `query MinimumVersionImpact($id: ID!, $version: String!) {
  minimumVersionImpact(miniProgramId: $id, version: $version, sinceHours: 24) { devicesBelow share }
}`;

const WINDOW = 'the last 24 h';

/**
 * A status line; preview(read) shows what the promise of `read()` says,
 * once it is the latest one asked for (an answer for a choice since
 * changed is dropped). data-state: loading, ready or failed.
 */
export function impactLine(id) {
  const el = h('p.impact', { id, role: 'status', 'data-state': 'ready' });
  let asked = 0;
  return {
    el,
    async preview(read) {
      const mine = ++asked;
      el.dataset.state = 'loading';
      el.setAttribute('aria-busy', 'true');
      say(el, 'Counting the devices seen in the last 24 h…');
      let text;
      try {
        text = await read();
      } catch (error) {
        text = `The devices seen could not be counted: ${error.message}`;
        if (mine === asked) el.dataset.state = 'failed';
      }
      if (mine !== asked) return;
      if (el.dataset.state === 'loading') el.dataset.state = 'ready';
      el.removeAttribute('aria-busy');
      say(el, text);
    },
    /** Shows `text` at once (a choice that needs no reading). */
    show(text) {
      asked++;
      el.dataset.state = 'ready';
      el.removeAttribute('aria-busy');
      say(el, text);
    },
  };
}

/** "In the last 24 h, 12,410 devices: 9,870 would update in the background, 2,540 would wait for a download." */
export async function updateModeImpact(miniProgramId, mode) {
  const { updateModeImpact: impact } = await graphql(UPDATE_MODE, { id: miniProgramId, mode });
  if (!impact.devices) return `No device checked in during ${WINDOW}: there is nothing to count yet.`;
  const parts = impact.byAction.filter((a) => a.devices > 0)
    .sort((a, b) => b.devices - a.devices)
    .map((a) => `${count(a.devices)} ${WOULD[a.action] || a.action}`);
  return `In ${WINDOW}, ${count(impact.devices, 'device')}: ${parts.join(', ')}.`;
}

/** "412 devices (3.3%) seen in the last 24 h run an older version and would download before starting." */
export async function minimumVersionImpact(miniProgramId, version) {
  const { minimumVersionImpact: impact } = await graphql(MINIMUM_VERSION, { id: miniProgramId, version });
  const n = impact.devicesBelow;
  if (!n) return `No device seen in ${WINDOW} runs a version older than ${version}: none would have to download before starting.`;
  return `${count(n, 'device')} (${percent(impact.share)}) seen in ${WINDOW} ${n === 1 ? 'runs' : 'run'} an older version and would download before starting.`;
}
