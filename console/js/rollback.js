// Versions > Roll back (admins): the program's newest release goes offline
// for good and the one before it serves again, after a reason and a
// confirmation that names both. Which versions those are is the server's
// decision; the dialog tells what it will be from the versions shown.

import { graphql } from './api.js';
import { h, field, say, act, createDialog } from './ui.js';
import { statusWords } from './words.js';

const MUTATION = `mutation RollBack($input: RollBackReleaseInput!) {
  rollBackRelease(input: $input) { rolledBack { id version } restored { id version } } }`;

/**
 * What a rollback would do to these versions: a gray release is rolled
 * back and the full release keeps serving; else the full release is, and
 * the newest offline version released before it (never one rolled back
 * already) is restored. Null when nothing is released.
 */
function rollbackOf(versions) {
  const gray = versions.find((v) => v.status === 'GRAY_RELEASE');
  const full = versions.find((v) => v.status === 'FULL_RELEASE');
  if (gray) return { rolledBack: gray, serving: full ?? null, restores: false };
  if (!full) return null;
  const releasedBefore = (v) => v.status === 'OFFLINE' && !v.offlineReason && v.releasedAt
    && Date.parse(v.releasedAt) < Date.parse(full.releasedAt);
  const previous = versions.filter(releasedBefore)
    .sort((a, b) => Date.parse(b.releasedAt) - Date.parse(a.releasedAt))[0];
  return { rolledBack: full, serving: previous ?? null, restores: true };
}

/**
 * The Roll back button and its dialog. update(versions, complete) shows it
 * when something is released (complete: every version is shown);
 * done(ids, message) reads the changed versions again.
 */
export function createRollback(ctx, { done }) {
  const button = h('button.danger#roll-back', { type: 'button', hidden: true }, 'Roll back…');
  const status = h('p.result#roll-back-result', { role: 'status' });
  const el = h('div.roll-back', h('div.actions', button), status);
  let plan = null;
  let complete = true;

  button.addEventListener('click', () => open());

  function open() {
    if (!plan) return;
    const { rolledBack, serving, restores } = plan;
    const d = createDialog({ id: 'roll-back-dialog', title: `Roll back a release of ${ctx.program?.name ?? 'this mini program'}` });
    const [reasonField, reason] = field('Reason', h('textarea#roll-back-reason', { rows: 3, required: true, maxLength: 500 }),
      'Shown with the version from now on, and sent to integrations.');
    const errorEl = h('p.error#roll-back-error', { role: 'alert' });
    const confirm = h('button.danger#confirm-roll-back', { type: 'submit' }, `Roll back ${rolledBack.version}`);
    const cancel = h('button.secondary', { type: 'button', onclick: () => d.close() }, 'Cancel');
    const none = complete ? 'none' : 'none among the versions shown';
    const form = h('form', { noValidate: true },
      h('dl.facts.roll-back-versions',
        h('div', h('dt', 'Rolled back'), h('dd#roll-back-from', `${rolledBack.version} (${statusWords(rolledBack)})`)),
        h('div', h('dt', restores ? 'Restored as the full release' : 'Keeps serving as the full release'),
          h('dd#roll-back-to', serving ? serving.version : none))),
      h('p', `${rolledBack.version} goes offline and is never served again; devices that run it update before they start. `,
        serving ? `Devices get ${serving.version}.` : 'No version is served afterwards.'),
      reasonField, errorEl, h('div.actions', confirm, cancel));
    d.body.append(form);
    d.dialog.addEventListener('close', () => d.dialog.remove());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      say(status, '');
      act(confirm, errorEl, async () => {
        const { rollBackRelease: answer } = await graphql(MUTATION, {
          input: { miniProgramId: ctx.id, reason: reason.value.trim() },
        });
        d.close();
        const message = `${answer.rolledBack.version} was rolled back; ${answer.restored
          ? `${answer.restored.version} is the full release.` : 'no version is released now.'}`;
        say(status, message);
        await done([answer.rolledBack.id, answer.restored?.id].filter(Boolean), message);
      }, { reason });
    });
    d.open(button, reason);
  }

  return {
    el,
    update(versions, everyVersion) {
      plan = rollbackOf(versions);
      complete = everyVersion;
      button.hidden = !plan;
      if (plan) button.textContent = `Roll back ${plan.rolledBack.version}…`;
    },
  };
}

export const offlineReasonEl = (version) => version.offlineReason
  && h('p.offline-reason', h('strong', 'Rolled back: '), version.offlineReason);
