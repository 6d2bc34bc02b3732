// DOM helpers. Every text from the API goes through textContent (via h()),
// never through innerHTML, so a program named "<img onerror=…>" stays text.

export function h(tag, attrs, ...children) {
  const [, name, rest] = tag.match(/^([a-z0-9-]+)(.*)$/i);
  const el = document.createElement(name);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && !key.includes('-') && key !== 'list') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

let uid = 0;
export const newId = (prefix) => `${prefix}-${++uid}`;

export function field(label, control, hint) {
  control.id ||= newId('f');
  const hintEl = hint ? h('span.hint', { id: newId('hint') }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return [h('div.field', h('label', { htmlFor: control.id }, label), control, hintEl), control];
}

// An empty message hides its region (CSS :empty), so no blank alert box shows.
export function say(el, text) {
  el.textContent = text || '';
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function formatDate(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}
export const timeEl = (iso) => h('time', { dateTime: iso }, formatDate(iso));

// To the second and with the zone, for moments that are minutes away.
const momentFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
export const momentEl = (iso) => {
  const date = new Date(iso);
  return h('time', { dateTime: iso }, Number.isNaN(date.getTime()) ? iso : momentFormat.format(date));
};

/** An SVG element: attributes as given (no properties), children as h() takes them. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

/**
 * Runs an async action with its button disabled, so a double click sends
 * one request. Disabling drops the focus to <body>; it is given back.
 */
export async function busy(button, action) {
  const focused = document.activeElement === button;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (focused && button.isConnected && document.activeElement === document.body) button.focus();
  }
}

/**
 * Runs a button's action; a refusal is shown in `errorEl`, or, when the
 * server names the input at fault (BAD_USER_INPUT's `field`) and `fields`
 * has its control, next to that control. The server's rules are checked
 * by the server: the console shows what it says.
 */
export function act(button, errorEl, action, fields = {}) {
  say(errorEl, '');
  for (const control of Object.values(fields)) clearFieldError(control);
  return busy(button, () => action().catch((error) => showError(error, errorEl, fields)));
}

export function showError(error, errorEl, fields = {}) {
  const control = error.code === 'BAD_USER_INPUT' ? fields[error.extensions?.field] : null;
  if (!control) return say(errorEl, error.message);
  const message = inputMessage(error);
  const [at, text] = locators.get(control)?.(message) || [control, message];
  fieldError(at, text);
}

const locators = new WeakMap();
/**
 * For a group of controls that the server names as one field (a plan's
 * "steps"): locate(message) gives the control within it that the message
 * is about and what to say there, or null for the group itself.
 */
export function locateWithin(group, locate) {
  locators.set(group, locate);
}

// Next to its field, "grayPercentage: may only grow…" needs no field name.
function inputMessage(error) {
  const prefix = `${error.extensions.field}: `;
  const text = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Shows `message` under a form control (or group), marks it invalid and focuses it. */
export function fieldError(control, message) {
  let el = control.parentElement.querySelector(':scope > .field-error');
  if (!el) {
    el = h('p.field-error', { id: newId('error'), role: 'alert' });
    control.after(el);
  }
  say(el, message);
  const target = control.matches('input, select, textarea') ? control : control.querySelector('input, select, textarea');
  if (!target) return;
  target.setAttribute('aria-invalid', 'true');
  const described = (target.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  if (!described.includes(el.id)) target.setAttribute('aria-describedby', [...described, el.id].join(' '));
  target.focus();
}

export function clearFieldError(control) {
  const el = control.parentElement?.querySelector(':scope > .field-error');
  if (el) say(el, '');
  for (const inner of control.querySelectorAll('.field-error')) say(inner, '');
  for (const target of [control, ...control.querySelectorAll('[aria-invalid]')]) target.removeAttribute('aria-invalid');
}

const FOCUSABLE = 'a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),textarea:not([disabled]),[tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog on the native <dialog>. showModal() makes the page inert,
 * but Chromium lets Tab leave for the browser UI, so the trap is ours; and
 * the focus goes back to the opener whichever way it closes.
 */
export function createDialog({ id, title }) {
  const titleId = `${id}-title`;
  const body = h('div.dialog-body');
  const dialog = h('dialog.dialog', { id, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, title), body);
  let opener = null;
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    // Tab stops only: of a radio group, just the checked radio is one.
    const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null
      && !(el.type === 'radio' && !el.checked && dialog.querySelector(`input[name="${el.name}"]:checked`)));
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  dialog.addEventListener('close', () => {
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
  return {
    dialog,
    body,
    get isOpen() { return dialog.open; },
    open(from, focusEl) {
      if (!dialog.isConnected) document.body.append(dialog);
      opener = from || document.activeElement;
      dialog.showModal();
      (focusEl || dialog.querySelector(FOCUSABLE))?.focus();
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}

export function confirmDialog({ title, message, confirmLabel }) {
  return new Promise((resolve) => {
    const d = createDialog({ id: newId('confirm'), title });
    let answer = false;
    const cancel = h('button.secondary', { type: 'button', onclick: () => d.close() }, 'Cancel');
    const ok = h('button.danger', { type: 'button', onclick: () => { answer = true; d.close(); } }, confirmLabel);
    d.body.append(h('p', message), h('div.actions', ok, cancel));
    d.dialog.addEventListener('close', () => {
      d.dialog.remove();
      resolve(answer);
    });
    d.open(document.activeElement, cancel);
  });
}

/**
 * The card of a secret the server shows once (an integration's signing
 * secret, a client key): what it is for, the secret to select or copy.
 * It replaces what `area` shows and takes the focus.
 */
export function showSecretOnce(area, { title, intro, label, value }) {
  const input = h('input.secret', { type: 'text', readOnly: true, value });
  const status = h('span.copy-status', { role: 'status' });
  const copy = h('button.secondary', {
    type: 'button',
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
        say(status, 'Copied.');
      } catch {
        say(status, 'Selected: press Ctrl+C (or ⌘C) to copy.');
      }
    },
  }, 'Copy');
  const [wrap] = field(label, input);
  const card = h('div.card.notice.secret-card', { tabIndex: -1 },
    h('h2', title), intro ? h('p', intro) : null,
    h('div.secret-box', { role: 'group' }, h('p.strong', 'Copy it now; it is not shown again.'), wrap, h('div.actions', copy, status)));
  area.replaceChildren(card);
  card.focus();
  return card;
}

// After navigation, screen readers start at the new view's heading.
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

export function markCurrent(links, isCurrent) {
  for (const a of links) {
    if (isCurrent(a)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

export function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), 'update-mode console'].join(' · ');
}
