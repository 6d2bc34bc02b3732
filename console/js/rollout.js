// A version's rollout plan: the editor of a new plan (each step a share of
// devices and how long it holds, in minutes, hours or days), and the latest
// plan drawn as a step chart beside the table of its steps, with pause,
// resume and cancel. Which plans are acceptable is the server's to say: it
// names the step at fault, shown at the steps.

import { h, svg, say, field, locateWithin, createDialog, confirmDialog, momentEl, newId } from './ui.js';
import { ROLLOUT_STATUS, duration, plural } from './words.js';

export const ROLLOUT_FIELDS = `rollout {
  status currentStep nextAdvanceAt pausedReason startedBy steps { percentage holdSeconds reachedAt } }`;

const PAYLOAD = '{ miniProgramVersion { id } }';
export const ROLLOUT_MUTATIONS = {
  start: `mutation StartRollout($input: StartRolloutInput!) { startRollout(input: $input) ${PAYLOAD} }`,
  pause: `mutation PauseRollout($input: PauseRolloutInput!) { pauseRollout(input: $input) ${PAYLOAD} }`,
  resume: `mutation ResumeRollout($input: ResumeRolloutInput!) { resumeRollout(input: $input) ${PAYLOAD} }`,
  cancel: `mutation CancelRollout($input: CancelRolloutInput!) { cancelRollout(input: $input) ${PAYLOAD} }`,
};

const UNITS = [['seconds', 1], ['minutes', 60], ['hours', 3600], ['days', 86400]];
const DAY = 86400;
const DEFAULT_SHARES = [1, 5, 20, 50, 100];

/** Whether the plan still holds the version's share (no manual release then). */
export const isActive = (rollout) => rollout?.status === 'RUNNING' || rollout?.status === 'PAUSED';

/**
 * The editor's first plan: 1 %, 5 %, 20 %, 50 %, 100 %, a day apart, from
 * the shares above the version's gray share (a plan starts above it).
 */
export function defaultDraft(version) {
  const from = version.status === 'GRAY_RELEASE' ? version.grayPercentage ?? 0 : 0;
  return DEFAULT_SHARES.filter((share) => share > from).map((share) => step(String(share), '1', DAY));
}

const step = (percentage, amount, unit) => ({ key: newId('step'), percentage, amount, unit });

/**
 * The editor. `draft` (its steps as typed) is the caller's, so that what was
 * typed survives the row being rebuilt; start(button, steps, fields) sends
 * the plan.
 */
export function rolloutEditor({ draft, start }) {
  const list = h('ol.rollout-steps');
  const group = h('fieldset.rollout-steps-group', h('legend', 'Steps'), list);
  // The server counts steps from 0 ("step 1: …" is the second); the
  // message goes to that step's percentage or hold.
  locateWithin(group, (message) => {
    const [, index, rest] = message.match(/^step (\d+): (.*)$/is) || [];
    const row = index !== undefined && list.querySelector(`:scope > [data-step="${index}"]`);
    if (!row) return null;
    const about = /^holdSeconds/.test(rest) ? '.step-hold' : '.step-percentage';
    const control = (row.querySelector(about) || row.querySelector('.step-percentage')).closest('.field');
    const text = rest.replace(/^holdSeconds/, 'the hold, in seconds,');
    return [control, text.charAt(0).toUpperCase() + text.slice(1)];
  });
  const headingId = newId('plan');
  const summary = h('p.hint.rollout-summary', { role: 'status' });
  const errorEl = h('p.error', { role: 'alert' });
  const add = h('button.secondary', { type: 'button', 'data-action': 'add-step', onclick: () => addStep() }, 'Add step');
  const startButton = h('button', { type: 'button', 'data-action': 'start-rollout', onclick: () => send() }, 'Start rollout');

  function render(focusKey) {
    list.replaceChildren(...draft.map((s, i) => stepRow(s, i)));
    summarize();
    if (focusKey) list.querySelector(`[data-focus-key="${focusKey}"]`)?.focus();
  }

  function stepRow(s, i) {
    const last = i === draft.length - 1;
    const labelId = newId('step');
    const percentage = h('input.step-percentage', {
      type: 'number', min: 1, max: 100, step: 1, inputMode: 'numeric', value: s.percentage,
      'data-focus-key': `${s.key}-percentage`, oninput: (e) => { s.percentage = e.target.value; summarize(); },
    });
    const [percentField] = field('Percentage', percentage);
    let hold;
    if (last) {
      hold = h('p.hint.step-last', 'The last step: the plan is complete once it applies.');
    } else {
      const amount = h('input.step-hold', {
        type: 'number', min: 0, step: 'any', inputMode: 'decimal', value: s.amount,
        'data-focus-key': `${s.key}-hold`, oninput: (e) => { s.amount = e.target.value; summarize(); },
      });
      const unit = h('select.step-unit', {
        'data-focus-key': `${s.key}-unit`, 'aria-label': `Unit of the hold of step ${i + 1}`,
        onchange: (e) => { s.unit = Number(e.target.value); summarize(); },
      }, UNITS.map(([name, size]) => h('option', { value: size, selected: size === s.unit }, name)));
      const [holdField] = field('Hold for', amount);
      holdField.append(h('div.hold-input', amount, unit));
      hold = holdField;
    }
    const remove = draft.length > 1 && h('button.secondary.remove-step', {
      type: 'button', 'aria-label': `Remove step ${i + 1}`, 'data-focus-key': `${s.key}-remove`,
      onclick: () => {
        draft.splice(i, 1);
        const next = draft[Math.min(i, draft.length - 1)];
        render(`${next.key}-percentage`);
      },
    }, 'Remove');
    return h('li.rollout-step', { role: 'group', 'aria-labelledby': labelId, 'data-step': i },
      h('span.step-name', { id: labelId }, `Step ${i + 1}`), percentField, hold, remove);
  }

  function addStep() {
    const previous = draft[draft.length - 1];
    const added = step('', '1', previous?.unit ?? DAY);
    draft.push(added);
    render(`${added.key}-percentage`);
  }

  // Only what the steps add up to; whether they are acceptable is the server's answer.
  function summarize() {
    const holds = draft.slice(0, -1).map(holdSeconds);
    const total = holds.reduce((sum, seconds) => sum + seconds, 0);
    say(summary, holds.some(Number.isNaN) ? ''
      : `${plural(draft.length, 'step')}; the last one applies ${total ? `${duration(Math.round(total))} after the start` : 'at once'}, unless a release gate refuses or the plan is paused.`);
  }

  function send() {
    say(errorEl, '');
    const steps = [];
    for (const [i, s] of draft.entries()) {
      const percentage = s.percentage.trim() === '' ? NaN : Number(s.percentage);
      const seconds = i === draft.length - 1 ? 0 : holdSeconds(s);
      const bad = !Number.isInteger(percentage) ? ['percentage', 'Enter the percentage as a whole number.']
        : Number.isNaN(seconds) ? ['hold', 'Enter the hold as a number.'] : null;
      if (bad) {
        say(errorEl, `Step ${i + 1}: ${bad[1]}`);
        list.querySelector(`[data-focus-key="${s.key}-${bad[0]}"]`)?.focus();
        return;
      }
      steps.push({ percentage, holdSeconds: seconds });
    }
    start(startButton, steps, { steps: group }, errorEl);
  }

  const el = h('section.rollout-editor', { 'aria-labelledby': headingId },
    h('h5', { id: headingId }, 'Plan a rollout'),
    h('p.hint', 'The share of devices grows step by step by itself: each step holds for its time, then the next one applies. Step 1 applies at once.'),
    group, summary, errorEl, h('div.actions', add, startButton));
  render();
  return el;
}

function holdSeconds(s) {
  const amount = String(s.amount).trim() === '' ? NaN : Number(s.amount);
  return Number.isFinite(amount) ? Math.round(amount * s.unit) : NaN;
}

/**
 * The latest plan: its chart, its steps, where it stands, and for whoever
 * may release the version, its controls. mutate({button, errorEl, query,
 * input, done, focus, fields, onAnswer}) sends a change and shows its result.
 */
export function rolloutProgress({ version, mayControl, mutate }) {
  const rollout = version.rollout;
  const headingId = newId('rollout');
  const errorEl = h('p.error', { role: 'alert' });
  const current = rollout.steps[rollout.currentStep];
  const status = h('span.badge.rollout-status', { 'data-rollout': rollout.status }, ROLLOUT_STATUS[rollout.status] || rollout.status);
  return h('section.rollout', { 'aria-labelledby': headingId, 'data-rollout-status': rollout.status },
    h('h4', { id: headingId }, 'Rollout ', status),
    h('div.rollout-progress', chart(rollout), stepsTable(rollout)),
    h('dl.facts',
      h('div', h('dt', 'Started by'), h('dd.rollout-started-by', rollout.startedBy)),
      current && h('div', h('dt', 'Now'), h('dd.rollout-current', `Step ${rollout.currentStep + 1} of ${rollout.steps.length}: ${current.percentage} % of devices`)),
      rollout.nextAdvanceAt && h('div', h('dt', `Next step (${rollout.steps[rollout.currentStep + 1]?.percentage} %)`),
        h('dd.rollout-next', momentEl(rollout.nextAdvanceAt)))),
    rollout.status === 'PAUSED' && h('p.paused-reason', h('strong', 'Paused: '), rollout.pausedReason || 'no reason given'),
    rollout.status === 'COMPLETED' && h('p.note', 'The plan is complete: the version is released to all devices.'),
    rollout.status === 'CANCELLED' && h('p.note', `The plan was cancelled; the share stays where it was${current ? ` (${current.percentage} %)` : ''}.`),
    mayControl && isActive(rollout) && controls(version, mutate, errorEl),
    errorEl);
}

function controls(version, mutate, errorEl) {
  const button = (action, label, onclick, cls = '.secondary') => h(`button${cls}`, {
    type: 'button', 'data-action': action, onclick: (e) => onclick(e.currentTarget),
  }, label);
  const paused = version.rollout.status === 'PAUSED';
  return h('div.actions.rollout-controls',
    paused
      ? button('resume', 'Resume', (b) => mutate({
        button: b, errorEl, query: ROLLOUT_MUTATIONS.resume, input: {}, focus: 'pause',
        done: `The rollout of ${version.version} is running again.`,
      }), '')
      : button('pause', 'Pause…', (b) => pauseDialog(version, b, mutate)),
    button('cancel', 'Cancel rollout…', async (b) => {
      const share = version.grayPercentage ?? 100;
      const sure = await confirmDialog({
        title: 'Cancel the rollout',
        message: `Stop the rollout of ${version.version} for good? The version stays released to ${share} % of devices; it can then be released or taken offline by hand.`,
        confirmLabel: 'Cancel rollout',
      });
      if (sure) {
        mutate({
          button: b, errorEl, query: ROLLOUT_MUTATIONS.cancel, input: {}, focus: 'start-rollout',
          done: `The rollout of ${version.version} was cancelled.`,
        });
      }
    }, '.danger'));
}

function pauseDialog(version, opener, mutate) {
  const d = createDialog({ id: newId('pause'), title: `Pause the rollout of ${version.version}` });
  const [reasonField, reason] = field('Reason', h('textarea.pause-reason', { rows: 3, required: true, maxLength: 500 }),
    'Why the share stops growing; shown with the plan, and sent to integrations.');
  const errorEl = h('p.error', { role: 'alert' });
  const confirm = h('button', { type: 'submit', 'data-action': 'confirm-pause' }, 'Pause');
  const cancel = h('button.secondary', { type: 'button', onclick: () => d.close() }, 'Keep running');
  const form = h('form', { noValidate: true },
    h('p', 'The version keeps its share of devices and the plan stops advancing until it is resumed.'),
    reasonField, errorEl, h('div.actions', confirm, cancel));
  d.body.append(form);
  d.dialog.addEventListener('close', () => d.dialog.remove());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // The server requires the reason and says so at the field.
    mutate({
      button: confirm, errorEl, query: ROLLOUT_MUTATIONS.pause, input: { reason: reason.value.trim() },
      fields: { reason }, focus: 'resume', onAnswer: () => d.close(),
      done: `The rollout of ${version.version} is paused.`,
    });
  });
  d.open(opener, reason);
}

// The chart: one column per step, the share as the line's height. Reached
// steps are solid, the rest dashed; the step in force is shaded.
const W = 560;
const H = 180;
const PAD = { left: 40, right: 12, top: 22, bottom: 40 };

function chart(rollout) {
  const n = rollout.steps.length;
  const cw = (W - PAD.left - PAD.right) / n;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (p) => PAD.top + (1 - p / 100) * plotH;
  const x = (i) => PAD.left + i * cw;
  const reached = (s) => Boolean(s.reachedAt);
  const segment = (s, i) => `M ${x(i)} ${y(s.percentage)} H ${x(i + 1)}`;
  const rise = (i) => `M ${x(i)} ${y(rollout.steps[i - 1].percentage)} V ${y(rollout.steps[i].percentage)}`;
  const parts = rollout.steps.map((s, i) => ({ s, i, d: i ? `${rise(i)} ${segment(s, i)}` : segment(s, i) }));
  const current = rollout.currentStep;
  const label = `${ROLLOUT_STATUS[rollout.status]} rollout: step ${current + 1} of ${n} in force, ${rollout.steps[current]?.percentage ?? 0} % of devices; steps ${
    rollout.steps.map((s) => `${s.percentage} %`).join(', ')}.`;
  return svg('svg', { class: 'rollout-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label },
    [0, 50, 100].map((p) => [
      svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(p), y2: y(p) }),
      svg('text', { class: 'axis', x: PAD.left - 6, y: y(p) + 4, 'text-anchor': 'end' }, `${p}%`),
    ]),
    current < n && svg('rect', { class: `current-step${rollout.status === 'PAUSED' ? ' paused' : ''}`, x: x(current), y: PAD.top, width: cw, height: plotH }),
    parts.map(({ s, i, d }) => svg('path', { class: reached(s) ? 'line reached' : 'line planned', d })),
    rollout.steps.map((s, i) => [
      reached(s) && svg('circle', { class: i === current ? 'mark current' : 'mark', cx: x(i), cy: y(s.percentage), r: i === current ? 5 : 3.5 }),
      svg('text', { class: 'share', x: x(i) + cw / 2, y: y(s.percentage) - 6, 'text-anchor': 'middle' }, `${s.percentage}%`),
      svg('text', { class: 'axis', x: x(i) + cw / 2, y: H - PAD.bottom + 16, 'text-anchor': 'middle' }, `Step ${i + 1}`),
      svg('text', { class: 'axis hold', x: x(i) + cw / 2, y: H - PAD.bottom + 31, 'text-anchor': 'middle' },
        i === n - 1 ? 'last' : duration(s.holdSeconds)),
    ]));
}

function stepsTable(rollout) {
  return h('div.table-wrap', h('table.rollout-steps-table',
    h('caption.visually-hidden', 'Steps of the rollout'),
    h('thead', h('tr', ['Step', 'Share', 'Hold', 'Reached'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', rollout.steps.map((s, i) => {
      const isCurrent = i === rollout.currentStep && rollout.status !== 'COMPLETED';
      return h('tr', { class: isCurrent ? 'current' : null, 'aria-current': isCurrent ? 'step' : null, 'data-step': i },
        h('th', { scope: 'row' }, `${i + 1}`, isCurrent ? h('span.current-label', ' (now)') : ''),
        h('td', `${s.percentage}\u00a0%`),
        h('td', i === rollout.steps.length - 1 ? '—' : duration(s.holdSeconds)),
        h('td', s.reachedAt ? momentEl(s.reachedAt) : 'Not yet'));
    }))));
}
