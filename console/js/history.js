// The History tab: every change of the global update mode, newest first.

import { graphql } from './api.js';
import { h, say, timeEl } from './ui.js';
import { MODE, plural } from './words.js';

const QUERY = `query History($id: ID!, $after: String) {
  miniProgram(id: $id) {
    updateModeHistory(first: 20, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { previousMode mode changedBy changedAt revision }
    }
  }
}`;

export function createHistoryTab(ctx) {
  const count = h('p.count', { role: 'status' });
  const errorEl = h('p.error', { role: 'alert' });
  const body = h('tbody');
  const table = h('table.stack#update-mode-history',
    h('caption.visually-hidden', 'Update mode changes, newest first'),
    h('thead', h('tr', ['Change', 'By', 'When', 'Revision'].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const more = h('button.secondary#history-more', { type: 'button', hidden: true }, 'More');
  const el = h('section', { 'aria-labelledby': 'history-heading' },
    h('h2#history-heading', 'Update mode history'), count, errorEl, h('div.table-wrap', table), more);

  let cursor = null;
  let request = 0;

  async function load(append) {
    const mine = ++request;
    try {
      const data = await graphql(QUERY, { id: ctx.id, after: append ? cursor : null });
      if (mine !== request || !data.miniProgram) return;
      const page = data.miniProgram.updateModeHistory;
      say(errorEl, '');
      const rows = page.nodes.map((change) => h('tr',
        h('td', { 'data-label': 'Change' }, `${MODE[change.previousMode]} → ${MODE[change.mode]}`),
        h('td', { 'data-label': 'By' }, change.changedBy),
        h('td', { 'data-label': 'When' }, timeEl(change.changedAt)),
        h('td', { 'data-label': 'Revision' }, String(change.revision))));
      if (append) body.append(...rows);
      else body.replaceChildren(...rows);
      table.hidden = page.totalCount === 0;
      say(count, page.totalCount ? plural(page.totalCount, 'change') : 'The update mode has not been changed yet.');
      cursor = page.pageInfo.endCursor;
      more.hidden = !page.pageInfo.hasNextPage;
    } catch (error) {
      if (mine === request) say(errorEl, `The history could not be loaded: ${error.message}`);
    }
  }

  more.addEventListener('click', () => load(true));

  return {
    el,
    // Called when the tab is shown and whenever the program is read again
    // (a change, a reconnection): the first page is read afresh.
    update() {
      if (el.isConnected) load(false);
    },
  };
}
