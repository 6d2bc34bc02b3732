// The list of mini programs with search, filters and cursor paging.

import { graphql } from './api.js';
import { h, field, say, setTitle, focusHeading } from './ui.js';
import { MODE, TYPE, CHANNEL, plural } from './words.js';

const PAGE_SIZE = 20;
const QUERY = `query Programs($first: Int, $after: String, $filter: MiniProgramFilter) {
  miniPrograms(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name type channel updateMode }
  }
}`;

// Kept across visits, so coming back from a program shows the same page.
const state = { search: '', type: '', channel: '', mode: '', cursors: [], after: null };

function select(id, label, words, value) {
  const control = h(`select#${id}`, h('option', { value: '' }, 'Any'),
    Object.entries(words).map(([key, text]) => h('option', { value: key, selected: key === value }, text)));
  return field(label, control);
}

export function renderPrograms(main) {
  setTitle('Programs');
  const [searchField, search] = field('Search by name', h('input#search', { type: 'search', value: state.search, autocomplete: 'off' }));
  const [typeField, type] = select('filter-type', 'Type', TYPE, state.type);
  const [channelField, channel] = select('filter-channel', 'Channel', CHANNEL, state.channel);
  const [modeField, mode] = select('filter-mode', 'Update mode', MODE, state.mode);
  const count = h('p.count#program-count', { role: 'status' });
  const errorEl = h('p.error', { role: 'alert' });
  const body = h('tbody');
  const table = h('table.stack#programs',
    h('caption.visually-hidden', 'Mini programs'),
    h('thead', h('tr', ['Name', 'Type', 'Channel', 'Update mode'].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const empty = h('p.empty', { hidden: true });
  const prev = h('button.secondary#prev-page', { type: 'button', disabled: true }, 'Previous');
  const next = h('button.secondary#next-page', { type: 'button', disabled: true }, 'Next');
  const pageLabel = h('span.page-label');

  main.replaceChildren(
    h('h1', 'Mini programs'),
    h('form.filters', { role: 'search', onsubmit: (e) => e.preventDefault() }, searchField, typeField, channelField, modeField),
    count, errorEl, h('div.table-wrap', table), empty,
    h('nav.pager', { 'aria-label': 'Pages' }, prev, pageLabel, next),
  );
  focusHeading(main);

  let request = 0;
  async function load() {
    const mine = ++request;
    const filter = {};
    if (state.search.trim()) filter.nameContains = state.search.trim();
    if (state.type) filter.type = state.type;
    if (state.channel) filter.channel = state.channel;
    if (state.mode) filter.updateMode = state.mode;
    main.setAttribute('aria-busy', 'true');
    try {
      const { miniPrograms: page } = await graphql(QUERY, { first: PAGE_SIZE, after: state.after, filter });
      if (mine !== request) return; // a newer search is on its way
      say(errorEl, '');
      show(page);
    } catch (error) {
      if (mine === request) say(errorEl, `The mini programs could not be loaded: ${error.message}`);
    } finally {
      if (mine === request) main.removeAttribute('aria-busy');
    }
  }

  function show(page) {
    say(count, plural(page.totalCount, 'program'));
    body.replaceChildren(...page.nodes.map((p) => h('tr', { 'data-program-id': p.id },
      h('td', { 'data-label': 'Name' }, h('a', { href: `#/programs/${encodeURIComponent(p.id)}` }, p.name)),
      h('td', { 'data-label': 'Type' }, TYPE[p.type] || p.type),
      h('td', { 'data-label': 'Channel' }, CHANNEL[p.channel] || p.channel),
      h('td', { 'data-label': 'Update mode' }, MODE[p.updateMode] || p.updateMode))));
    table.hidden = !page.nodes.length;
    empty.hidden = Boolean(page.nodes.length);
    const filtered = state.search.trim() || state.type || state.channel || state.mode;
    empty.textContent = filtered
      ? 'No mini program matches these filters. Try another name or set a filter back to “Any”.'
      : 'This workspace has no mini programs yet.';
    prev.disabled = !state.cursors.length;
    next.disabled = !page.pageInfo.hasNextPage;
    next.onclick = () => {
      state.cursors.push(state.after);
      state.after = page.pageInfo.endCursor;
      load();
    };
    pageLabel.textContent = `Page ${state.cursors.length + 1}`;
  }

  prev.addEventListener('click', () => {
    state.after = state.cursors.pop() ?? null;
    load();
  });

  function restart() {
    state.cursors = [];
    state.after = null;
    load();
  }

  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.search = search.value;
      restart();
    }, 250);
  });
  for (const [control, key] of [[type, 'type'], [channel, 'channel'], [mode, 'mode']]) {
    control.addEventListener('change', () => {
      state[key] = control.value;
      restart();
    });
  }

  load();
  return { leave: () => clearTimeout(timer) };
}
