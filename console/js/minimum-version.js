// Versions > Minimum version: the floor below which no device may start,
// and the dialog that sets or clears it against the revision this page last
// read. Which versions may be the floor is the server's rule; the dialog
// offers those that look eligible among the versions shown, and tells how
// many of the devices seen the chosen floor would make download first.

import { graphql } from './api.js';
import { h, say, act, createDialog } from './ui.js';
import { statusWords } from './words.js';
import { impactLine, minimumVersionImpact } from './impact.js';

const MUTATION = `mutation SetMinimumVersion($input: SetMinimumVersionInput!) {
  setMinimumVersion(input: $input) { miniProgram { id minimumVersion revision } } }`;

/**
 * Versions that were released and are no newer than the full release: the
 * list is newest first, so those from the full release on that have a
 * release time. None without a full release.
 */
function candidatesOf(versions) {
  const full = versions.findIndex((v) => v.status === 'FULL_RELEASE');
  return full < 0 ? [] : versions.slice(full).filter((v) => v.releasedAt);
}

/**
 * The floor, its button and dialog. update(program, versions) shows the
 * program's floor and remembers the versions shown for the dialog.
 */
export function createMinimumVersion(ctx, { announce }) {
  const valueEl = h('strong#minimum-version');
  const button = h('button.secondary#set-minimum-version', { type: 'button', 'aria-describedby': 'update-mode-locks' },
    'Set minimum version…');
  const status = h('p.result#minimum-version-result', { role: 'status' });
  const el = h('div.minimum-version',
    h('p', 'Minimum version: ', valueEl),
    h('p.hint', 'Devices with an older version cached download the released version before they start, whatever the update mode.'),
    h('div.actions', button), status);
  let versions = [];

  button.addEventListener('click', () => open());

  function open() {
    const program = ctx.program;
    if (!program) return;
    const d = createDialog({ id: 'minimum-version-dialog', title: 'Set minimum version' });
    const options = [null, ...candidatesOf(versions)].map((version) => {
      const value = version?.version ?? '';
      const radio = h('input', {
        type: 'radio', name: 'minimum-version', value, id: `minimum-version-${value || 'none'}`,
        checked: (program.minimumVersion ?? '') === value,
      });
      return h('div.option', radio, h('label', { htmlFor: radio.id },
        version ? `${version.version} (${statusWords(version)})` : 'No minimum'));
    });
    const group = h('fieldset#minimum-version-choices',
      h('legend', 'The oldest version a device may start'), options);
    const impact = impactLine('minimum-version-impact');
    const preview = () => {
      const chosen = group.querySelector('input:checked');
      if (!chosen) impact.show('');
      else if (!chosen.value) impact.show('With no minimum, no device has to download before starting because of its version.');
      else impact.preview(() => minimumVersionImpact(ctx.id, chosen.value));
    };
    group.addEventListener('change', preview);
    const errorEl = h('p.error#minimum-version-error', { role: 'alert' });
    const confirm = h('button#confirm-minimum-version', { type: 'submit' }, 'Confirm');
    const cancel = h('button.secondary', { type: 'button', onclick: () => d.close() }, 'Cancel');
    const form = h('form', { noValidate: true },
      h('p.hint', 'Versions that are or were released, up to the full release.'),
      group, impact.el, errorEl, h('div.actions', confirm, cancel));
    d.body.append(form);
    d.dialog.addEventListener('close', () => d.dialog.remove());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = group.querySelector('input:checked');
      if (!chosen) return say(errorEl, 'Choose a version or No minimum.');
      say(status, '');
      return act(confirm, errorEl, async () => {
        try {
          const { setMinimumVersion: answer } = await graphql(MUTATION, {
            input: { miniProgramId: ctx.id, version: chosen.value || null, expectedRevision: program.revision },
          });
          Object.assign(ctx.program, answer.miniProgram);
        } catch (error) {
          // The page is stale: show what is there now beside the refusal.
          if (error.code === 'CONFLICT') await ctx.reload();
          throw error;
        }
        d.close();
        const floor = ctx.program.minimumVersion;
        const message = floor ? `The minimum version is ${floor}.` : 'The minimum version was cleared.';
        say(status, message);
        announce(message);
        await ctx.reload();
      }, { version: group });
    });
    preview();
    d.open(button, group.querySelector('input:checked') || group.querySelector('input'));
  }

  return {
    el,
    update(program, shown) {
      versions = shown;
      valueEl.textContent = program.minimumVersion ?? 'None';
      button.disabled = !program.updateModeEditable;
    },
  };
}
