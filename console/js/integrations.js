// Integrations (admins): release-approval partners, their webhook
// deliveries, and registering a new one (its secret is shown once).

import { graphql } from './api.js';
import { h, field, say, act, timeEl, showSecretOnce, setTitle, focusHeading } from './ui.js';
import { pagedList } from './list.js';
import { HOOK_EVENTS, sentence } from './words.js';

const PAGE_SIZE = 20;
const DELIVERIES = `totalCount pageInfo { hasNextPage endCursor }
  nodes { eventId eventType status attempts lastError nextAttemptAt deliveredAt }`;
const LIST = `query Integrations($first: Int) { releaseIntegrations {
  id name url events active createdAt deliveries(first: $first) { ${DELIVERIES} } } }`;
// There is no query for one integration: the page after a cursor is read
// for all of them, and this one's taken.
const MORE_DELIVERIES = `query Deliveries($first: Int, $after: String) {
  releaseIntegrations { id deliveries(first: $first, after: $after) { ${DELIVERIES} } } }`;
const REGISTER = `mutation Register($input: RegisterReleaseIntegrationInput!) {
  registerReleaseIntegration(input: $input) { secret integration { id name } } }`;
const UPDATE = `mutation SetActive($id: ID!, $active: Boolean!) {
  updateReleaseIntegration(input: { id: $id, active: $active }) { integration { id active } } }`;
const REDELIVER = `mutation Redeliver($integrationId: ID!, $eventId: ID!) {
  redeliverHookEvent(input: { integrationId: $integrationId, eventId: $eventId }) { delivery { eventId status } } }`;

export function renderIntegrations(main) {
  setTitle('Integrations');
  const list = h('div.integrations');
  const listError = h('p.error', { role: 'alert' });
  const status = h('p.result', { role: 'status' });
  const secretArea = h('div');
  main.replaceChildren(
    h('h1', 'Integrations'),
    h('p', 'Partner systems that receive signed webhooks about releases and approve or reject submitted versions.'),
    registerForm(secretArea, () => load()), secretArea,
    h('h2', 'Registered integrations'), status, listError, list);
  focusHeading(main);

  async function load() {
    try {
      const { releaseIntegrations } = await graphql(LIST, { first: PAGE_SIZE });
      say(listError, '');
      list.replaceChildren(...releaseIntegrations.map(card));
      if (!releaseIntegrations.length) list.append(h('p.empty', 'No integration is registered yet.'));
    } catch (error) {
      say(listError, `The integrations could not be loaded: ${error.message}`);
    }
  }

  function card(integration) {
    const errorEl = h('p.error', { role: 'alert' });
    const toggle = h('button.secondary', {
      type: 'button',
      onclick: () => act(toggle, errorEl, async () => {
        await graphql(UPDATE, { id: integration.id, active: !integration.active });
        say(status, `${integration.name} is now ${integration.active ? 'inactive' : 'active'}.`);
        await load();
      }),
    }, integration.active ? 'Deactivate' : 'Activate');
    const body = h('tbody');
    const table = h('div.table-wrap', h('table.stack.deliveries',
      h('thead', h('tr', ['Event', 'Status', 'Attempts', 'Details', ''].map((t) => h('th', { scope: 'col' }, t)))), body));
    const none = h('p.empty', 'Nothing was sent to it yet.');
    const deliveries = pagedList({
      pageSize: PAGE_SIZE,
      read: async (after, first) => (await graphql(MORE_DELIVERIES, { first, after })).releaseIntegrations
        .find((i) => i.id === integration.id)?.deliveries ?? null,
      render: (nodes) => {
        body.replaceChildren(...nodes.map((d) => deliveryRow(integration, d, errorEl)));
        table.hidden = !nodes.length;
        none.hidden = Boolean(nodes.length);
      },
      failed: (error) => say(errorEl, error && `More deliveries could not be loaded: ${error.message}`),
      label: 'More deliveries',
    });
    deliveries.show(integration.deliveries);
    return h('article.card.integration', { 'data-integration-id': integration.id },
      h('h3', integration.name, ' ', h('span.badge', { 'data-state': integration.active ? 'on' : 'off' }, integration.active ? 'Active' : 'Inactive')),
      h('dl.facts',
        h('div', h('dt', 'URL'), h('dd.url', integration.url)),
        h('div', h('dt', 'Events'), h('dd', integration.events.map(sentence).join(', '))),
        h('div', h('dt', 'Registered'), h('dd', timeEl(integration.createdAt)))),
      h('div.actions', toggle), errorEl,
      h('h4', 'Deliveries'), table, none, h('div.actions', deliveries.more));
  }

  function deliveryRow(integration, d, errorEl) {
    const details = d.status === 'DELIVERED' ? ['Delivered ', timeEl(d.deliveredAt)]
      : [d.lastError || '', d.nextAttemptAt ? [d.lastError ? '; next attempt ' : 'Next attempt ', timeEl(d.nextAttemptAt)] : ''];
    const redeliver = h('button.secondary', {
      type: 'button',
      'aria-label': `Redeliver ${sentence(d.eventType)} event ${d.eventId}`,
      onclick: () => act(redeliver, errorEl, async () => {
        await graphql(REDELIVER, { integrationId: integration.id, eventId: d.eventId });
        say(status, `The event ${d.eventId} is queued for delivery to ${integration.name} again.`);
        await load();
      }),
    }, 'Redeliver');
    return h('tr', { 'data-event-id': d.eventId },
      h('td', { 'data-label': 'Event' }, sentence(d.eventType), h('br'), h('code', d.eventId)),
      h('td', { 'data-label': 'Status' }, sentence(d.status)),
      h('td', { 'data-label': 'Attempts' }, String(d.attempts)),
      h('td', { 'data-label': 'Details' }, details),
      h('td', { 'data-label': 'Action' }, redeliver));
  }

  load();
}

function registerForm(secretArea, onRegistered) {
  const [nameField, name] = field('Name', h('input', { type: 'text', required: true, autocomplete: 'off' }));
  const [urlField, url] = field('Webhook URL', h('input', { type: 'url', required: true, placeholder: 'https://partner.example/hooks' }),
    'An http or https URL that receives signed POST requests.');
  const events = h('div.checks');
  const errorEl = h('p.error', { role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Register integration');
  const form = h('form.card', { noValidate: true, 'aria-labelledby': 'register-heading' },
    h('h2#register-heading', 'Register an integration'), nameField, urlField,
    h('fieldset', h('legend', 'Events to send'), events), errorEl, h('div.actions', submit));
  events.append(...HOOK_EVENTS.map((value) => h('label.check',
    h('input', { type: 'checkbox', name: 'events', value, defaultChecked: true }), ` ${sentence(value)}`)));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = [...events.querySelectorAll('input:checked')].map((box) => box.value);
    act(submit, errorEl, async () => {
      const { registerReleaseIntegration: answer } = await graphql(REGISTER, {
        input: { name: name.value.trim(), url: url.value.trim(), events: chosen },
      });
      form.reset();
      showSecretOnce(secretArea, {
        title: `${answer.integration.name} is registered`,
        intro: 'Give this secret to the partner: it verifies the webhook-signature header of every webhook.',
        label: `Signing secret of ${answer.integration.name}`,
        value: answer.secret,
      });
      onRegistered();
    }, { name, url, events });
  });
  return form;
}
