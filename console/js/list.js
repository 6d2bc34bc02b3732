// A list read from a Relay connection page by page: the first page, the
// next one on "Load more", and reload() to read again as much as is shown
// (after a change, or a reconnection that may have missed events). Reads
// run one at a time, in the order they were asked for, so what a later
// read found is never overwritten by an earlier one.

import { h, busy } from './ui.js';

/**
 * read(after, first) gives a connection ({totalCount, pageInfo, nodes}) or
 * null when its owner is gone; render(nodes, totalCount) shows them;
 * failed(error) shows why a read failed, failed(null) clears it;
 * afterMore(index) may move the focus to the first item a page added.
 */
export function pagedList({ read, pageSize, render, failed, id, label = 'Load more', afterMore }) {
  let nodes = [];
  let totalCount = 0;
  let pageInfo = { hasNextPage: false, endCursor: null };
  let queue = Promise.resolve();
  let reloading = null;
  const more = h('button.secondary.load-more', { type: 'button', id, hidden: true }, label);
  more.addEventListener('click', () => busy(more, loadMore));

  /** Runs `task` after every read asked for before it; its failure is shown. */
  function run(task) {
    queue = queue.then(task).catch((error) => failed(error));
    return queue;
  }

  /** Shows `connection` as the first page, or after what is shown. */
  function show(connection, { append = false } = {}) {
    nodes = append ? nodes.concat(connection.nodes) : [...connection.nodes];
    totalCount = connection.totalCount ?? nodes.length;
    pageInfo = connection.pageInfo;
    more.hidden = !pageInfo.hasNextPage;
    failed(null);
    render(nodes, totalCount);
  }

  function loadMore() {
    return run(async () => {
      if (!pageInfo.hasNextPage) return;
      const from = nodes.length;
      const connection = await read(pageInfo.endCursor, pageSize);
      if (!connection) return;
      show(connection, { append: true });
      // The button is gone with the last page: the focus goes to what it added.
      if (more.hidden) afterMore?.(from);
    });
  }

  /** Reads the first pages again: as many items as are shown, at least a page. */
  function reload() {
    // One reload waiting to start covers every change asked about so far.
    reloading ||= run(async () => {
      reloading = null;
      const wanted = Math.max(nodes.length, pageSize);
      let fresh = null;
      do {
        const connection = await read(fresh?.pageInfo.endCursor ?? null, pageSize);
        if (!connection) return;
        fresh = fresh ? { ...connection, nodes: fresh.nodes.concat(connection.nodes) } : connection;
      } while (fresh.nodes.length < wanted && fresh.pageInfo.hasNextPage);
      show(fresh);
    });
    return reloading;
  }

  /** Puts a node read afresh in the place of the one with its id; false if none is shown. */
  function replace(node) {
    const at = nodes.findIndex((shown) => shown.id === node.id);
    if (at < 0) return false;
    nodes[at] = node;
    render(nodes, totalCount);
    return true;
  }

  return {
    more,
    run,
    show,
    reload,
    replace,
    get nodes() { return nodes; },
    get totalCount() { return totalCount; },
    has: (nodeId) => nodes.some((node) => node.id === nodeId),
  };
}
