// Start-up, the header and the hash router.

import { graphql, setUnauthenticatedHandler } from './api.js';
import * as live from './live.js';
import { session } from './session.js';
import { h, focusHeading, setTitle, markCurrent } from './ui.js';
import { sentence } from './words.js';
import { renderSignIn } from './signin.js';
import { renderPrograms } from './programs.js';
import { openProgram } from './program.js';
import { renderIntegrations } from './integrations.js';
import { renderClientKeys } from './client-keys.js';
import { renderReleaseGates } from './release-gates.js';

const main = document.getElementById('main');
const nav = document.getElementById('top-nav');
const who = document.getElementById('who');
const liveStatus = h('span.live-status#live-status', { role: 'status', hidden: true });
const liveDetail = h('span.live-detail#live-detail');

// The mounted view: {key, show(params), leave()}; a program keeps its
// subscriptions while the user moves between its tabs.
let current = null;

async function loadViewer() {
  const data = await graphql('query Viewer { viewer { subject workspaceId roles capabilities } }');
  session.viewer = data.viewer;
  renderHeader();
}

function renderHeader() {
  const viewer = session.viewer;
  nav.hidden = who.hidden = !viewer;
  if (!viewer) return;
  const links = [['#/programs', 'Programs']];
  if (session.may('MANAGE_INTEGRATIONS')) links.push(['#/integrations', 'Integrations'], ['#/release-gates', 'Release gates'], ['#/client-keys', 'Client keys']);
  nav.replaceChildren(h('ul', links.map(([href, text]) => h('li', h('a', { href }, text)))));
  who.replaceChildren(
    h('span.who-name', h('span.visually-hidden', 'Signed in as '), viewer.subject),
    h('span.who-meta', `Workspace ${viewer.workspaceId} · `,
      viewer.roles.map(sentence).join(', ') || 'no roles'),
    liveStatus, liveDetail,
    h('button.secondary#sign-out', { type: 'button', onclick: () => signOut() }, 'Sign out'),
  );
  markNav();
}

function markNav() {
  const path = `#/${location.hash.split('/')[1] || 'programs'}`;
  markCurrent(nav.querySelectorAll('a'), (a) => a.getAttribute('href') === path);
}

live.onStatus(({ state, text, detail }) => {
  liveStatus.hidden = state === 'idle';
  liveStatus.textContent = text;
  liveStatus.dataset.state = state;
  liveStatus.title = detail || '';
  liveDetail.textContent = detail || '';
});

function leaveView() {
  current?.leave?.();
  current = null;
}

function signOut(error, draft) {
  live.close();
  leaveView();
  session.clear();
  renderHeader();
  document.getElementById('live-message').textContent = '';
  renderSignIn(main, { error, draft, onToken: signIn });
}

async function signIn(token) {
  session.token = token;
  try {
    await loadViewer();
  } catch (error) {
    if (error.code === 'UNAUTHENTICATED') return; // the handler showed the sign-in screen
    session.clear();
    renderSignIn(main, { error: error.message, draft: token, onToken: signIn });
    return;
  }
  if (!location.hash || location.hash === '#/') location.hash = '#/programs';
  else route();
}

setUnauthenticatedHandler((error) => {
  if (!session.token) return; // several requests were refused at once
  if (session.viewer) signOut(`Your session ended: the server refused the access token (${error.message}). Sign in again.`);
  else signOut(`The server refused this token: ${error.message}`, session.token);
});
live.onRefused(() => signOut('Your session ended: the live connection refused the access token (it may have expired). Sign in again.'));

const ROUTES = [
  [/^\/programs$/, () => ({ key: 'programs', mount: renderPrograms })],
  [/^\/programs\/([^/]+)(?:\/(versions|adoption|history|launch-preview))?$/, (id, tab = 'versions') => ({
    key: `program:${id}`, params: { id: decodeURIComponent(id), tab }, mount: openProgram,
  })],
  [/^\/integrations$/, () => ({ key: 'integrations', mount: renderIntegrations, needs: 'MANAGE_INTEGRATIONS' })],
  [/^\/release-gates$/, () => ({ key: 'release-gates', mount: renderReleaseGates, needs: 'MANAGE_INTEGRATIONS' })],
  [/^\/client-keys$/, () => ({ key: 'client-keys', mount: renderClientKeys, needs: 'MANAGE_INTEGRATIONS' })],
];

function route() {
  if (!session.viewer) return;
  const path = location.hash.replace(/^#/, '') || '/programs';
  markNav();
  let match = null;
  for (const [pattern, make] of ROUTES) {
    const m = path.match(pattern);
    if (m) {
      match = make(...m.slice(1).filter((part) => part !== undefined));
      break;
    }
  }
  if (match && current?.key === match.key && current.show) {
    current.show(match.params);
    return;
  }
  leaveView();
  const plain = (title, heading, text) => {
    setTitle(title);
    main.replaceChildren(h('h1', heading), h('p', text, ' ', h('a', { href: '#/programs' }, 'Go to the mini programs.')));
  };
  if (!match) plain('Not found', 'Page not found', 'There is no page at this address.');
  else if (match.needs && !session.may(match.needs)) plain('Not allowed', 'Not available to you', 'Your access token does not allow managing integrations, release gates and client keys.');
  else {
    current = { key: match.key, ...(match.mount(main, match.params) || {}) };
    return;
  }
  focusHeading(main);
}

// Tokens are only ever pasted: a sign-in link would let anyone who sends
// one sign a user into the sender's workspace.
window.addEventListener('hashchange', route);

document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

async function start() {
  if (session.token) {
    try {
      await loadViewer();
      route();
      return;
    } catch (error) {
      if (error.code === 'UNAUTHENTICATED') return;
      session.clear();
      renderSignIn(main, { error: error.message, onToken: signIn });
      return;
    }
  }
  renderSignIn(main, { onToken: signIn });
}

start();
