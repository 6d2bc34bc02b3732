// Release gates (admins): partner systems asked before any share of devices
// changes, which refuse or allow it. A new gate's signing secret is shown
// once; deleting one asks first, since releases stop waiting for it.

import { graphql } from './api.js';
import { h, field, say, act, timeEl, showSecretOnce, confirmDialog, setTitle, focusHeading } from './ui.js';

const LIST = 'query ReleaseGates { releaseGates { id name url active createdAt } }';
const REGISTER = `mutation RegisterGate($input: RegisterReleaseGateInput!) {
  registerReleaseGate(input: $input) { secret gate { id name } } }`;
const DELETE = `mutation DeleteGate($input: DeleteReleaseGateInput!) {
  deleteReleaseGate(input: $input) { id } }`;

export function renderReleaseGates(main) {
  setTitle('Release gates');
  const body = h('tbody');
  const table = h('table.stack#release-gates',
    h('caption.visually-hidden', 'Release gates'),
    h('thead', h('tr', ['Name', 'URL', 'Registered', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), body);
  const empty = h('p.empty', { hidden: true }, 'No release gate is registered: releases wait for no partner.');
  const listError = h('p.error', { role: 'alert' });
  const status = h('p.result', { role: 'status' });
  const secretArea = h('div');

  const [nameField, name] = field('Name', h('input#gate-name', { type: 'text', required: true, autocomplete: 'off' }),
    'Shown to release managers when the gate refuses a change, e.g. "Crash monitor".');
  const [urlField, url] = field('URL', h('input#gate-url', { type: 'url', required: true, placeholder: 'https://partner.example/release-check' }),
    'An http or https URL that answers signed release.check requests.');
  const formError = h('p.error', { role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Register gate');
  const form = h('form.card', { noValidate: true, 'aria-labelledby': 'new-gate-heading' },
    h('h2#new-gate-heading', 'Register a release gate'), nameField, urlField, formError, h('div.actions', submit));

  main.replaceChildren(h('h1', 'Release gates'),
    h('p', 'Before any share of devices changes (a gray release, a raise, a full release, each rollout step) every gate is asked whether it may. '
      + 'A gate that refuses, answers anything else or does not answer in time stops the change.'),
    form, secretArea, h('h2', 'Registered gates'), status, listError, h('div.table-wrap', table), empty);
  focusHeading(main);

  async function load() {
    try {
      const { releaseGates } = await graphql(LIST);
      say(listError, '');
      body.replaceChildren(...releaseGates.map(row));
      table.hidden = !releaseGates.length;
      empty.hidden = Boolean(releaseGates.length);
    } catch (error) {
      say(listError, `The release gates could not be loaded: ${error.message}`);
    }
  }

  function row(gate) {
    const remove = h('button.danger', {
      type: 'button',
      'aria-label': `Delete ${gate.name}`,
      onclick: async () => {
        const sure = await confirmDialog({
          title: 'Delete release gate',
          message: `Delete “${gate.name}”? Releases and rollout steps stop asking it from now on. This cannot be undone.`,
          confirmLabel: 'Delete',
        });
        if (!sure) return;
        await act(remove, listError, async () => {
          await graphql(DELETE, { input: { id: gate.id } });
          say(status, `${gate.name} was deleted.`);
          await load();
        });
      },
    }, 'Delete');
    return h('tr', { 'data-gate-id': gate.id },
      h('td', { 'data-label': 'Name' }, gate.name),
      h('td.url', { 'data-label': 'URL' }, gate.url),
      h('td', { 'data-label': 'Registered' }, timeEl(gate.createdAt)),
      h('td', { 'data-label': 'State' }, h('span.badge', { 'data-state': gate.active ? 'on' : 'off' }, gate.active ? 'Active' : 'Inactive')),
      h('td', { 'data-label': 'Action' }, remove));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    say(status, '');
    act(submit, formError, async () => {
      const { registerReleaseGate: answer } = await graphql(REGISTER, {
        input: { name: name.value.trim(), url: url.value.trim() },
      });
      form.reset();
      showSecretOnce(secretArea, {
        title: `${answer.gate.name} is registered`,
        intro: 'Give this secret to the partner: it verifies the webhook-signature header of every release.check request.',
        label: `Signing secret of ${answer.gate.name}`,
        value: answer.secret,
      });
      await load();
    }, { name, url });
  });

  load();
}
