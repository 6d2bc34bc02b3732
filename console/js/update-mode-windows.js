// Versions > Update Mode > Windows: changes of the global mode that the
// server makes by itself at a start time and reverts at an end time. Times
// are typed and shown in the viewer's time zone and sent in UTC; whether a
// window is acceptable (in the future, no overlap) is the server's answer.

import { graphql } from './api.js';
import { h, field, say, act, createDialog, confirmDialog, momentEl } from './ui.js';
import { MODE, WINDOW_STATUS } from './words.js';

const SCHEDULE = `mutation ScheduleUpdateMode($input: ScheduleUpdateModeInput!) {
  scheduleUpdateMode(input: $input) { scheduledChange { id } } }`;
const CANCEL = `mutation CancelScheduledUpdateMode($input: CancelScheduledUpdateModeInput!) {
  cancelScheduledUpdateMode(input: $input) { scheduledChange { id status } } }`;

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const pad = (n) => String(n).padStart(2, '0');

/** A moment as a datetime-local input holds it: local time, to the second. */
function localInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${
    pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** What a datetime-local input holds, read in the viewer's zone, as RFC 3339 UTC; null when empty or invalid. */
function utc(value) {
  const date = value ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
}

/**
 * The list of upcoming and active windows with Schedule and Cancel.
 * update(program) shows what the program was read with; a change reads
 * the program again (ctx.reload), as a live change of the mode does.
 */
export function createUpdateModeWindows(ctx, { announce }) {
  const schedule = h('button.secondary#schedule-update-mode', { type: 'button', 'aria-describedby': 'update-mode-locks' },
    'Schedule…');
  const body = h('tbody');
  const table = h('table.stack#update-mode-windows',
    h('caption.visually-hidden', 'Update mode windows, soonest first'),
    h('thead', h('tr', ['Mode', 'Starts', 'Ends', 'Status', 'Reverts to', ''].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const empty = h('p.note#update-mode-windows-empty', 'No window is scheduled.');
  const errorEl = h('p.error', { role: 'alert' });
  const status = h('p.result#update-mode-windows-result', { role: 'status' });
  const el = h('section.update-mode-windows', { 'aria-labelledby': 'update-mode-windows-heading' },
    h('h3#update-mode-windows-heading', 'Windows'),
    h('p.hint', `A window changes the global update mode at its start and changes it back at its end, unless someone changed it meanwhile. Times in your time zone (${ZONE}).`),
    h('div.table-wrap', table), empty, errorEl, status, h('div.actions', schedule));

  schedule.addEventListener('click', () => open());

  function update(program) {
    const windows = program.scheduledUpdateModes;
    schedule.disabled = !program.updateModeEditable;
    // A row read again keeps the focus of its Cancel button; a row gone gives it to Schedule.
    const focusedIn = body.contains(document.activeElement) && document.activeElement.closest('tr').dataset.windowId;
    body.replaceChildren(...windows.map((w) => row(w, program.updateModeEditable)));
    table.hidden = !windows.length;
    empty.hidden = Boolean(windows.length);
    if (focusedIn) (body.querySelector(`[data-window-id="${CSS.escape(focusedIn)}"] button`) || schedule).focus();
  }

  function row(w, editable) {
    const cancel = editable && h('button.danger', {
      type: 'button', 'data-action': 'cancel-window', 'aria-label': `Cancel the ${MODE[w.mode]} window`,
      onclick: async () => {
        const sure = await confirmDialog({
          title: 'Cancel the window',
          message: w.status === 'ACTIVE'
            ? `End the ${MODE[w.mode]} window now? The update mode goes back to ${MODE[w.revertTo]} unless someone changed it during the window.`
            : `Drop the ${MODE[w.mode]} window? The update mode stays as it is.`,
          confirmLabel: 'Cancel window',
        });
        if (!sure) return;
        say(status, '');
        await act(cancel, errorEl, async () => {
          await graphql(CANCEL, { input: { id: w.id } });
          say(status, `The ${MODE[w.mode]} window was cancelled.`);
          await ctx.reload();
          // The row is gone: the focus goes to Schedule rather than to the page.
          if (document.activeElement === document.body) schedule.focus();
        });
      },
    }, 'Cancel…');
    return h('tr', { 'data-window-id': w.id, 'data-window-status': w.status },
      h('td', { 'data-label': 'Mode' }, MODE[w.mode]),
      h('td', { 'data-label': 'Starts' }, momentEl(w.startsAt)),
      h('td', { 'data-label': 'Ends' }, w.endsAt ? momentEl(w.endsAt) : 'Stays'),
      h('td', { 'data-label': 'Status' }, h('span.badge.window-status', { 'data-window-status': w.status }, WINDOW_STATUS[w.status] || w.status)),
      h('td.window-note', { 'data-label': 'Reverts to' }, w.revertTo ? MODE[w.revertTo] : '—', w.note ? h('span.hint', ` ${w.note}`) : ''),
      h('td', { 'data-label': 'Action' }, cancel || ''));
  }

  function open() {
    if (!ctx.program) return;
    const d = createDialog({ id: 'schedule-dialog', title: 'Schedule an update mode window' });
    const [modeField, mode] = field('Mode', h('select#schedule-mode',
      Object.keys(MODE).map((value) => h('option', { value, selected: value === 'SYNC' }, MODE[value]))));
    // An hour ahead, to the next whole minute.
    const start = new Date(Math.ceil((Date.now() + 3600e3) / 60e3) * 60e3);
    const [startField, startsAt] = field('Starts', h('input#schedule-starts-at', {
      type: 'datetime-local', step: 1, required: true, value: localInput(start),
    }), `In your time zone (${ZONE}); within a year.`);
    const [endField, endsAt] = field('Ends (optional)', h('input#schedule-ends-at', { type: 'datetime-local', step: 1 }),
      'The mode changes back then; leave empty to keep it.');
    const formError = h('p.error#schedule-error', { role: 'alert' });
    const confirm = h('button#confirm-schedule', { type: 'submit' }, 'Schedule');
    const cancel = h('button.secondary', { type: 'button', onclick: () => d.close() }, 'Cancel');
    const form = h('form', { noValidate: true }, modeField, startField, endField, formError, h('div.actions', confirm, cancel));
    d.body.append(form);
    d.dialog.addEventListener('close', () => d.dialog.remove());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const input = { miniProgramId: ctx.id, mode: mode.value, startsAt: utc(startsAt.value), endsAt: utc(endsAt.value) };
      if (!input.startsAt) {
        say(formError, 'Enter the start: a date and a time.');
        return startsAt.focus();
      }
      if (endsAt.value && !input.endsAt) {
        say(formError, 'Enter the end as a date and a time, or leave it empty.');
        return endsAt.focus();
      }
      say(status, '');
      return act(confirm, formError, async () => {
        await graphql(SCHEDULE, { input });
        d.close();
        const message = `A ${MODE[input.mode]} window was scheduled.`;
        say(status, message);
        announce(message);
        await ctx.reload();
      }, { startsAt, endsAt, mode });
    });
    d.open(schedule, mode);
  }

  return { el, update };
}
