// A graphql-transport-ws client (github.com/enisdenjo/graphql-ws PROTOCOL.md):
// one socket per signed-in session, opened at the first subscription and
// shared by all of them. After a drop or an interrupted subscription it
// reconnects with backoff and asks each subscriber to re-read its data,
// because events sent while it was away are not replayed.

import { session } from './session.js';
import { toError } from './api.js';

// Codes of problems that pass: the subscription is started again later.
const PASSING = ['SUBSCRIPTION_INTERRUPTED', 'TOO_MANY_SUBSCRIPTIONS', 'SERVICE_UNAVAILABLE'];

// Why the server closes a connection (src/http/subscriptions.rs) and how
// soon to try again: the first wait, doubling per attempt up to `most`.
// 4401 (token refused or expired) is not here: it ends the session.
const CLOSES = {
  4429: {
    why: 'Live updates are paused: you have too many live connections open on this server (other tabs or devices). Close some to free one.',
    first: 5000,
    most: 120000,
  },
  4408: { why: 'The live connection did not start in time.', first: 1000, most: 30000 },
  // The process is stopping; another one is there at once.
  1001: { why: 'The server is restarting.', first: 500, most: 30000 },
  1011: { why: 'The server stopped hearing from this browser.', first: 1000, most: 30000 },
};
const LOST = { why: 'The live connection was lost.', first: 1000, most: 30000 };

const subs = new Set();
let socket = null;
let acked = false;
let everLive = false;
let attempt = 0;
let reconnectTimer = null;
let problem = '';
let nextId = 0;
let statusListener = () => {};
let refusedHandler = () => {};

export function onStatus(fn) {
  statusListener = fn;
  report();
}

export function onRefused(fn) {
  refusedHandler = fn;
}

/**
 * Subscribes; sink = {next(data), error(apiError), resync()}. resync is
 * called after the subscription was restarted, so the view re-reads what
 * it may have missed. Returns a function that ends the subscription.
 */
export function subscribe(query, variables, sink) {
  const sub = { query, variables, sink, id: null, interrupted: false, resync: false };
  subs.add(sub);
  if (acked) start(sub);
  else connect();
  report();
  return () => {
    subs.delete(sub);
    if (sub.id && acked) send({ id: sub.id, type: 'complete' });
    sub.id = null;
    report();
  };
}

export function close() {
  subs.clear();
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (socket) {
    const old = socket;
    socket = null;
    old.close(1000, 'Signed out');
  }
  acked = false;
  everLive = false;
  attempt = 0;
  problem = '';
  report();
}

function connect() {
  if (socket || reconnectTimer) return;
  const url = `${location.origin.replace(/^http/, 'ws')}/graphql`;
  const ws = new WebSocket(url, 'graphql-transport-ws');
  socket = ws;
  ws.addEventListener('open', () => {
    send({ type: 'connection_init', payload: { Authorization: `Bearer ${session.token}` } });
  });
  ws.addEventListener('message', (event) => {
    if (ws === socket) receive(JSON.parse(event.data));
  });
  ws.addEventListener('close', (event) => {
    if (ws !== socket) return;
    socket = null;
    acked = false;
    for (const sub of subs) {
      sub.id = null;
      sub.resync = true;
      sub.failed = null;
    }
    if (event.code === 4401) {
      close();
      refusedHandler();
      return;
    }
    const closed = CLOSES[event.code] || LOST;
    problem = closed.why;
    if (subs.size) retryLater(connect, closed);
    report();
  });
}

function send(message) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function receive(message) {
  const sub = [...subs].find((s) => s.id && s.id === message.id);
  switch (message.type) {
    case 'connection_ack':
      acked = true;
      everLive = true;
      attempt = 0;
      problem = '';
      for (const s of subs) if (!s.failed) start(s);
      break;
    case 'ping':
      send({ type: 'pong' });
      break;
    case 'next': {
      if (!sub) break;
      const errors = message.payload?.errors || [];
      const passing = errors.find((e) => PASSING.includes(e.extensions?.code));
      if (passing) {
        // A `complete` follows; we restart the subscription then.
        sub.interrupted = true;
        problem = passing.message || '';
      } else if (errors.length) {
        sub.sink.error?.(toError(errors[0]));
      } else if (message.payload?.data) {
        attempt = 0;
        sub.sink.next(message.payload.data);
      }
      break;
    }
    case 'error': {
      if (!sub) break;
      sub.id = null;
      const error = toError(message.payload?.[0] || {});
      if (PASSING.includes(error.code)) {
        problem = error.message;
        sub.resync = true;
        retryLater(() => acked && !sub.id && subs.has(sub) && start(sub));
      } else {
        sub.failed = error.message;
        sub.sink.error?.(error);
      }
      break;
    }
    case 'complete':
      if (!sub) break;
      // The server ended a subscription we still want: start it again.
      sub.id = null;
      sub.interrupted = true;
      sub.resync = true;
      retryLater(() => acked && !sub.id && subs.has(sub) && start(sub));
      break;
    default:
      break;
  }
  report();
}

function start(sub) {
  if (sub.id) return;
  sub.id = String(++nextId);
  sub.interrupted = false;
  send({ id: sub.id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } });
  // Subscribed first, re-read second: nothing falls between the two.
  if (sub.resync) {
    sub.resync = false;
    sub.sink.resync?.();
  }
  report();
}

// Spread out by a fifth either way, so that the clients of a restarted
// server do not all come back in the same instant.
function retryLater(fn, { first = 1000, most = 30000 } = {}) {
  const delay = Math.round(Math.min(most, first * 2 ** attempt) * (0.8 + Math.random() * 0.4));
  attempt += 1;
  const base = problem.replace(/ Retrying in \d+ s\.$/, '');
  if (base) problem = `${base}${/[.!?]$/.test(base) ? '' : '.'} Retrying in ${Math.max(1, Math.round(delay / 1000))} s.`;
  const timer = setTimeout(() => {
    if (reconnectTimer === timer) reconnectTimer = null;
    fn();
    report();
  }, delay);
  if (fn === connect) reconnectTimer = timer;
}

function report() {
  // A subscription the server refused for good (not a passing problem) is
  // left out, and reported as "Not live" when nothing else is running.
  const all = [...subs];
  const running = all.filter((s) => !s.failed);
  let state;
  if (!all.length) state = 'idle';
  else if (!running.length) state = 'off';
  else if (acked && running.every((s) => s.id && !s.interrupted)) state = 'live';
  else state = everLive || problem ? 'reconnecting' : 'connecting';
  const text = { idle: '', off: 'Not live', live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…' }[state];
  const detail = state === 'off' ? all[0].failed : problem;
  statusListener({ state, text, detail: state === 'live' ? '' : detail });
}
