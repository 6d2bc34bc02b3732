// Launch preview: what a device would be told at a cold start of a program
// now, and the rules that made the answer, in the order they applied.

import { graphql } from './api.js';
import { h, field, say, act } from './ui.js';
import { MODE, LAUNCH_ACTION, duration } from './words.js';

const QUERY = `query Launch($id: ID!, $deviceId: String!, $cachedVersion: String, $cacheAgeSeconds: Int) {
  launchPolicy(miniProgramId: $id, deviceId: $deviceId, cachedVersion: $cachedVersion, cacheAgeSeconds: $cacheAgeSeconds) {
    targetVersion updateMode action asyncUpdateSeconds syncUpdateSeconds grayRelease policyRevision reasons
  }
}`;

export function createLaunchTab(ctx) {
  const [deviceField, device] = field('Device id', h('input#launch-device', { type: 'text', required: true, autocomplete: 'off' }),
    'Gray releases reach a stable share of device ids.');
  const [cachedField, cached] = field('Cached version (optional)', h('input#launch-cached', { type: 'text', placeholder: 'e.g. 1.2.0', autocomplete: 'off' }),
    'Leave empty for a first open: nothing is cached.');
  const [ageField, age] = field('Cache age in seconds (optional)', h('input#launch-age', { type: 'number', step: 1, inputMode: 'numeric' }),
    'Time since the first open or the last update.');
  const errorEl = h('p.error', { role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Preview');
  const result = h('div.launch-result', { role: 'status' });
  const form = h('form.card', { noValidate: true },
    deviceField, cachedField, ageField, errorEl, h('div.actions', submit));
  const el = h('section', { 'aria-labelledby': 'launch-heading' },
    h('h2#launch-heading', 'Launch preview'),
    h('p.hint', 'The answer a super app would get now when it opens this mini program.'),
    form, result);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    say(errorEl, '');
    const ageValue = age.value.trim() === '' ? null : Number(age.value);
    if (ageValue !== null && !Number.isInteger(ageValue)) {
      say(errorEl, 'Enter the cache age as a whole number of seconds.');
      age.focus();
      return;
    }
    result.replaceChildren();
    act(submit, errorEl, async () => {
      const { launchPolicy: p } = await graphql(QUERY, {
        id: ctx.id, deviceId: device.value.trim(), cachedVersion: cached.value.trim() || null, cacheAgeSeconds: ageValue,
      });
      const rows = [
        ['Target version', p.targetVersion || 'Nothing is released for this device'],
        ['Update mode', MODE[p.updateMode]],
        ['Action', LAUNCH_ACTION[p.action] || p.action],
        ['Async update time', duration(p.asyncUpdateSeconds)],
        ['Sync update time', duration(p.syncUpdateSeconds)],
        ['Gray release', p.grayRelease ? 'Yes: this device is in the gray release' : 'No'],
        ['Policy revision', String(p.policyRevision)],
      ];
      result.replaceChildren(h('h3', `Launch answer for device ${device.value.trim()}`),
        h('dl.facts', rows.map(([term, value]) => h('div', h('dt', term), h('dd', value)))),
        h('h4#launch-reasons-heading', 'Why this answer'),
        h('ol.reasons#launch-reasons', { 'aria-labelledby': 'launch-reasons-heading' }, p.reasons.map((reason) => h('li', reason))));
    }, { deviceId: device, cachedVersion: cached, cacheAgeSeconds: age });
  });
  return { el };
}

