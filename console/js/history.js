// The History tab: every change of the global update mode, newest first.

import { graphql } from './api.js';
import { h, say, timeEl } from './ui.js';
import { pagedList } from './list.js';
import { MODE, plural } from './words.js';

const QUERY = `query History($id: ID!, $first: Int, $after: String) {
  miniProgram(id: $id) {
    updateModeHistory(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { previousMode mode changedBy changedAt revision }
    }
  }
}`;

export function createHistoryTab(ctx) {
  const count = h('p.count', { role: 'status', tabIndex: -1 });
  const errorEl = h('p.error', { role: 'alert' });
  const body = h('tbody');
  const table = h('table.stack#update-mode-history',
    h('caption.visually-hidden', 'Update mode changes, newest first'),
    h('thead', h('tr', ['Change', 'By', 'When', 'Revision'].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const changes = pagedList({
    pageSize: 20,
    read: async (after, first) => (await graphql(QUERY, { id: ctx.id, first, after })).miniProgram?.updateModeHistory ?? null,
    render: (nodes, totalCount) => {
      body.replaceChildren(...nodes.map((change) => h('tr',
        h('td', { 'data-label': 'Change' }, `${MODE[change.previousMode]} → ${MODE[change.mode]}`),
        h('td', { 'data-label': 'By' }, change.changedBy),
        h('td', { 'data-label': 'When' }, timeEl(change.changedAt)),
        h('td', { 'data-label': 'Revision' }, String(change.revision)))));
      table.hidden = totalCount === 0;
      say(count, totalCount ? plural(totalCount, 'change') : 'The update mode has not been changed yet.');
    },
    failed: (error) => say(errorEl, error && `The history could not be loaded: ${error.message}`),
    id: 'history-more',
    label: 'More',
    afterMore: () => count.focus(),
  });
  const el = h('section', { 'aria-labelledby': 'history-heading' },
    h('h2#history-heading', 'Update mode history'), count, errorEl, h('div.table-wrap', table), changes.more);

  return {
    el,
    // Called when the tab is shown and whenever the program is read again
    // (a change, a reconnection): what it shows is read afresh.
    update() {
      if (el.isConnected) changes.reload();
    },
  };
}
