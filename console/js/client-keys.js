// Client keys (admins): the keys super apps send to the launch endpoint.
// A new key is shown once; revoking one asks first, since apps using it stop.

import { graphql } from './api.js';
import { h, field, say, act, timeEl, showSecretOnce, confirmDialog, setTitle, focusHeading } from './ui.js';

const LIST = 'query ClientKeys { clientKeys { id name createdAt revokedAt } }';
const CREATE = `mutation CreateKey($name: String!) {
  createClientKey(input: { name: $name }) { clientKey { id name } key } }`;
const REVOKE = `mutation RevokeKey($id: ID!) {
  revokeClientKey(input: { id: $id }) { clientKey { id name revokedAt } } }`;

export function renderClientKeys(main) {
  setTitle('Client keys');
  const body = h('tbody');
  const table = h('table.stack#client-keys',
    h('caption.visually-hidden', 'Client keys'),
    h('thead', h('tr', ['Name', 'Created', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), body);
  const empty = h('p.empty', { hidden: true }, 'No client key yet.');
  const listError = h('p.error', { role: 'alert' });
  const status = h('p.result', { role: 'status' });
  const keyArea = h('div');

  const [nameField, name] = field('Name', h('input#client-key-name', { type: 'text', required: true, autocomplete: 'off' }),
    'Which super app or environment uses it, e.g. "Android production".');
  const formError = h('p.error', { role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create key');
  const form = h('form.card', { noValidate: true, 'aria-labelledby': 'new-key-heading' },
    h('h2#new-key-heading', 'New client key'), nameField, formError, h('div.actions', submit));

  main.replaceChildren(h('h1', 'Client keys'),
    h('p', 'Super apps send a client key with every launch request; a revoked key is refused from then on.'),
    form, keyArea, h('h2', 'Keys'), status, listError, h('div.table-wrap', table), empty);
  focusHeading(main);

  async function load() {
    try {
      const { clientKeys } = await graphql(LIST);
      say(listError, '');
      body.replaceChildren(...clientKeys.map(row));
      table.hidden = !clientKeys.length;
      empty.hidden = Boolean(clientKeys.length);
    } catch (error) {
      say(listError, `The client keys could not be loaded: ${error.message}`);
    }
  }

  function row(key) {
    const revoke = key.revokedAt ? null : h('button.danger', {
      type: 'button',
      onclick: async () => {
        const sure = await confirmDialog({
          title: 'Revoke client key',
          message: `Revoke “${key.name}”? Super apps that send it can no longer ask for launch answers. This cannot be undone.`,
          confirmLabel: 'Revoke',
        });
        if (!sure) return;
        await act(revoke, listError, async () => {
          await graphql(REVOKE, { id: key.id });
          say(status, `${key.name} was revoked.`);
          await load();
        });
      },
    }, 'Revoke');
    revoke?.setAttribute('aria-label', `Revoke ${key.name}`);
    return h('tr', { 'data-client-key-id': key.id },
      h('td', { 'data-label': 'Name' }, key.name),
      h('td', { 'data-label': 'Created' }, timeEl(key.createdAt)),
      h('td', { 'data-label': 'State' }, key.revokedAt ? ['Revoked ', timeEl(key.revokedAt)] : 'Active'),
      h('td', { 'data-label': 'Action' }, revoke));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(submit, formError, async () => {
      const { createClientKey: answer } = await graphql(CREATE, { name: name.value.trim() });
      form.reset();
      showSecretOnce(keyArea, { title: `Key “${answer.clientKey.name}” created`, label: 'Client key', value: answer.key });
      await load();
    }, { name });
  });

  load();
}
