// Versions > Update Mode: the program's global mode, why it may be locked,
// and the dialog that changes it against the revision this page last read,
// so that a stale page cannot overwrite someone else's change unnoticed,
// and that tells, before Confirm, what the chosen mode would make the
// devices seen do; below it, the windows that change the mode at set times.

import { graphql } from './api.js';
import { h, say, createDialog } from './ui.js';
import { MODE, MODE_EXPLANATION, LOCK } from './words.js';
import { createUpdateModeWindows } from './update-mode-windows.js';
import { impactLine, updateModeImpact } from './impact.js';

const MUTATION = `mutation UpdateMode($input: UpdateModeInput!) {
  updateMode(input: $input) {
    changed previousMode
    miniProgram { id updateMode updateModeEditable updateModeLocks revision }
    affectedVersions { id version }
  }
}`;

export function createUpdateModeSection(ctx, { announce, afterChange }) {
  const modeEl = h('strong#global-update-mode');
  const locks = h('ul.locks#update-mode-locks', { hidden: true });
  const button = h('button#update-mode-button', { type: 'button', 'aria-describedby': 'update-mode-locks' }, 'Update Mode');
  const result = h('p.result#update-mode-result', { role: 'status' });
  const windows = createUpdateModeWindows(ctx, { announce });
  const el = h('section.update-mode', { 'aria-labelledby': 'update-mode-heading' },
    h('h2#update-mode-heading', 'Update Mode'),
    h('p.global-mode', 'Global update mode: ', modeEl),
    h('p.hint', 'New Version Created versions will execute this mode; it takes effect with a version after it is submitted for release approval.'),
    h('div.actions', button), locks, result, windows.el);

  const dialog = createDialog({ id: 'update-mode-dialog', title: 'Update Mode' });
  const errorEl = h('p.error#update-mode-error', { role: 'alert' });
  const confirm = h('button#confirm-update-mode', { type: 'submit' }, 'Confirm');
  const cancel = h('button.secondary#cancel-update-mode', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const radios = Object.keys(MODE).map((mode) => h('input', {
    type: 'radio', name: 'update-mode', value: mode, id: `update-mode-${mode.toLowerCase()}`,
    'aria-describedby': `update-mode-${mode.toLowerCase()}-hint`,
  }));
  const impactHeading = h('h3#update-mode-impact-heading');
  const impact = impactLine('update-mode-impact');
  const impactSection = h('section.impact-preview', { 'aria-labelledby': 'update-mode-impact-heading' },
    impactHeading, impact.el,
    h('p.hint', 'What the devices seen would be told had the current release been released with this mode. A new mode applies from the next version submitted for release approval; released versions keep theirs.'));
  const form = h('form.mode-form',
    h('fieldset',
      h('legend', 'Choose how the super app updates this mini program at a cold start'),
      radios.map((radio) => h('div.option', radio,
        h('label', { htmlFor: radio.id }, `${MODE[radio.value]} mode`),
        h('p.hint', { id: `${radio.id}-hint` }, MODE_EXPLANATION[radio.value])))),
    impactSection,
    h('p.note', 'The update mode takes effect with a version after it is submitted for release approval.'),
    errorEl,
    h('div.actions', confirm, cancel));
  dialog.body.append(form);
  form.addEventListener('change', (event) => {
    if (event.target.name === 'update-mode') previewImpact();
  });

  function previewImpact() {
    const mode = radios.find((radio) => radio.checked)?.value;
    if (!mode) return;
    impactHeading.textContent = `What ${MODE[mode]} would do`;
    impact.preview(() => updateModeImpact(ctx.id, mode));
  }

  // While a change is on its way, events wait: the answer tells whether
  // the event was our own change (same revision) or someone else's.
  let saving = false;
  let waiting = [];
  dialog.dialog.addEventListener('cancel', (event) => {
    if (saving) event.preventDefault();
  });

  function update(program) {
    modeEl.textContent = MODE[program.updateMode];
    button.disabled = !program.updateModeEditable;
    locks.replaceChildren(...program.updateModeLocks.map((lock) => h('li', LOCK[lock] || lock)));
    locks.hidden = program.updateModeEditable || !program.updateModeLocks.length;
    windows.update(program);
  }

  button.addEventListener('click', () => {
    const program = ctx.program;
    if (!program) return;
    say(errorEl, '');
    for (const radio of radios) radio.checked = radio.value === program.updateMode;
    previewImpact();
    dialog.open(button, radios.find((radio) => radio.checked));
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const mode = radios.find((radio) => radio.checked)?.value;
    if (!mode) return say(errorEl, 'Choose an update mode.');
    say(errorEl, '');
    saving = true;
    confirm.disabled = true;
    try {
      const { updateMode: answer } = await graphql(MUTATION, {
        input: { miniProgramId: ctx.id, mode, expectedRevision: ctx.program.revision },
      });
      Object.assign(ctx.program, answer.miniProgram);
      update(ctx.program);
      dialog.close();
      say(result, describe(answer));
      afterChange();
    } catch (error) {
      if (error.code === 'CONFLICT' || error.code === 'UPDATE_MODE_LOCKED' || error.code === 'FORBIDDEN') {
        const fresh = await ctx.reload();
        if (error.code === 'CONFLICT' && fresh) {
          say(errorEl, `Another change was saved since you opened this page: the update mode is now ${MODE[fresh.updateMode]}. Review it and confirm again.`);
        } else say(errorEl, error.message);
      } else say(errorEl, error.message);
    } finally {
      saving = false;
      confirm.disabled = false;
      const events = waiting;
      waiting = [];
      events.forEach(modeChanged);
    }
  });

  function modeChanged(event) {
    if (saving) {
      waiting.push(event);
      return;
    }
    const program = ctx.program;
    if (!program || event.revision <= program.revision) return; // already seen (our own change)
    const words = `${event.changedBy} changed the update mode from ${MODE[event.previousMode]} to ${MODE[event.mode]}.`;
    announce(words);
    say(result, ''); // our last result is no longer the current state
    program.updateMode = event.mode;
    program.revision = event.revision;
    update(program);
    if (dialog.isOpen) say(errorEl, `${words} Review your choice and confirm again.`);
    ctx.reload(); // New Version Created versions now follow the new mode
  }

  return { el, update, modeChanged, leave: () => dialog.dialog.remove() };
}

function describe({ changed, previousMode, miniProgram, affectedVersions }) {
  const mode = MODE[miniProgram.updateMode];
  if (!changed) return `The update mode already was ${mode}.`;
  const versions = affectedVersions.map((v) => v.version);
  return `Update mode changed from ${MODE[previousMode]} to ${mode}. ${versions.length
    ? `New Version Created versions that will now execute ${mode}: ${versions.join(', ')}.`
    : 'No version is waiting in New Version Created.'}`;
}
