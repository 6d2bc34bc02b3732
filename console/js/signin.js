// The sign-in screen. In development mode the server hands out a demo admin
// token through /console/config.json, so a fresh checkout opens in one click.

import { h, field, say, setTitle, focusHeading } from './ui.js';

async function devToken() {
  try {
    const response = await fetch('/console/config.json', { headers: { Accept: 'application/json' } });
    if (!response.ok) return null;
    return (await response.json()).devToken || null;
  } catch {
    return null;
  }
}

export function renderSignIn(main, { error, draft, onToken }) {
  setTitle('Sign in');
  const [tokenField, textarea] = field('Access token (JWT)',
    h('textarea#token', { rows: 6, required: true, autocomplete: 'off' }),
    'The token your identity provider issued; it is kept for this browser tab only.');
  textarea.spellcheck = false;
  textarea.value = draft || '';
  const note = h('p.note#dev-note', { role: 'status' });
  const errorEl = h('p.error#sign-in-error', { role: 'alert' });
  const button = h('button#sign-in', { type: 'submit' }, 'Sign in');
  const form = h('form.card.sign-in', { noValidate: true },
    h('h1', 'Sign in'),
    h('p', 'Sign in to the release console with an access token of your workspace.'),
    tokenField, note, errorEl, h('div.actions', button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = textarea.value.trim().replace(/^Bearer\s+/i, '');
    if (!token) {
      say(errorEl, 'Paste an access token first.');
      textarea.focus();
      return;
    }
    say(errorEl, '');
    button.disabled = true;
    try {
      await onToken(token);
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(form);
  say(errorEl, error);
  focusHeading(main);
  if (!draft) {
    devToken().then((token) => {
      if (token && form.isConnected && !textarea.value) {
        textarea.value = token;
        say(note, 'Development mode: filled in with the demo admin token.');
      }
    });
  }
}
