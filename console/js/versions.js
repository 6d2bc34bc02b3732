// The Versions tab: the Update Mode section, the minimum version, Roll back,
// the versions with their Release panels (lifecycle actions, rollout plan),
// and the New version form.
//
// The rules are the API's: the order of the versions, which steps a
// version offers (availableActions), and whether a number or a gray share
// is acceptable (the server says so, next to the field). Whatever changed,
// by us or by someone else, is read again rather than patched in here.

import { graphql } from './api.js';
import { session } from './session.js';
import { h, field, say, timeEl, act, newId } from './ui.js';
import { pagedList } from './list.js';
import { MODE, plural, statusWords } from './words.js';
import { createUpdateModeSection } from './update-mode.js';
import { ROLLOUT_FIELDS, ROLLOUT_MUTATIONS, defaultDraft, isActive, rolloutEditor, rolloutProgress } from './rollout.js';
import { createRollback, offlineReasonEl } from './rollback.js';
import { createMinimumVersion } from './minimum-version.js';

export const VERSION_FIELDS = `fragment VersionFields on MiniProgramVersion {
  id version description status updateMode updateModeSource grayPercentage
  createdAt submittedAt decidedAt decidedBy decisionComment releasedAt availableActions offlineReason
  ${ROLLOUT_FIELDS}
}`;

const PAGE_SIZE = 50;
const VERSIONS = `query Versions($id: ID!, $first: Int, $after: String) {
  miniProgram(id: $id) {
    versions(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { ...VersionFields } }
  }
}
${VERSION_FIELDS}`;
const VERSION = `query Version($id: ID!) { miniProgramVersion(id: $id) { ...VersionFields } }
${VERSION_FIELDS}`;

const CHANGED = '{ miniProgramVersion { id } offlineVersions { id } }';
const MUTATIONS = {
  submit: `mutation Submit($input: SubmitVersionInput!) {
    submitVersionForReleaseApproval(input: $input) { miniProgramVersion { id } } }`,
  decide: `mutation Decide($input: DecideReleaseInput!) { decideRelease(input: $input) ${CHANGED} }`,
  release: `mutation Release($input: ReleaseVersionInput!) { releaseVersion(input: $input) ${CHANGED} }`,
  offline: `mutation Offline($input: TakeVersionOfflineInput!) { takeVersionOffline(input: $input) ${CHANGED} }`,
  create: `mutation CreateVersion($input: CreateMiniProgramVersionInput!) {
    createMiniProgramVersion(input: $input) { miniProgramVersion { id version updateMode } } }`,
};

export function createVersionsTab(ctx) {
  const expanded = new Set();
  const drafts = new Map(); // version id -> the steps of a plan being typed
  const rows = new Map(); // version id -> {li, signature}
  const list = h('ol.versions', { 'aria-labelledby': 'versions-heading' });
  const count = h('p.count#versions-count', { role: 'status' });
  const listError = h('p.error', { role: 'alert' });
  const empty = h('p.empty', { hidden: true }, 'This mini program has no versions yet.');
  const liveMessage = document.getElementById('live-message');
  const versions = pagedList({
    pageSize: PAGE_SIZE,
    read: async (after, first) => (await graphql(VERSIONS, { id: ctx.id, first, after })).miniProgram?.versions ?? null,
    render: () => renderList(),
    failed: (error) => say(listError, error && `The versions could not be loaded: ${error.message}`),
    id: 'more-versions',
    label: 'Load more versions',
    afterMore: (from) => rows.get(versions.nodes[from]?.id)?.li.querySelector('.toggle')?.focus(),
  });
  const modeSection = createUpdateModeSection(ctx, {
    announce: (text) => say(liveMessage, text),
    afterChange: () => ctx.reload(),
  });
  const minimum = createMinimumVersion(ctx, { announce: (text) => say(liveMessage, text) });
  const newVersion = session.may('CREATE_VERSION') ? newVersionForm() : null;
  const rollback = session.may('RELEASE') ? createRollback(ctx, {
    done: async (ids, message) => {
      await refresh(ids);
      say(liveMessage, message);
    },
  }) : null;
  const el = h('div.versions-tab', modeSection.el,
    h('section', { 'aria-labelledby': 'versions-heading' },
      h('h2#versions-heading', 'Versions'), minimum.el, rollback?.el, count, listError, list, empty, h('div.actions', versions.more)),
    newVersion?.el);
  let shownProgram = null;

  /**
   * Reads these versions again, after every read asked for before, and
   * shows them where the list has them; a version it does not show yet is
   * placed by reading the list again.
   */
  function refresh(ids) {
    return versions.run(async () => {
      for (const id of ids) {
        const { miniProgramVersion: version } = await graphql(VERSION, { id });
        if (version && !versions.replace(version)) versions.reload();
      }
    });
  }

  function renderList() {
    if (!ctx.program) return;
    const shown = versions.nodes;
    // Remember where the focus was, to put it back in the rebuilt row.
    const active = document.activeElement;
    const activeRow = active?.closest?.('[data-version-id]');
    const focusKey = activeRow && list.contains(activeRow) && focusSelector(active);
    const next = shown.map((version) => {
      const signature = JSON.stringify([version, ctx.program.updateModeEditable, expanded.has(version.id)]);
      const old = rows.get(version.id);
      if (old && old.signature === signature) return old.li;
      const li = renderRow(version);
      if (old) keepInputs(old.li, li);
      rows.set(version.id, { li, signature });
      return li;
    });
    for (const id of rows.keys()) if (!shown.some((v) => v.id === id)) rows.delete(id);
    // Node by node rather than replaceChildren: moving a row that holds the
    // focus (someone typing a comment) would drop the focus.
    next.forEach((li, i) => {
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    while (list.children.length > next.length) list.lastElementChild.remove();
    empty.hidden = shown.length > 0;
    const total = versions.totalCount;
    say(count, !total ? '' : shown.length < total
      ? `Showing ${shown.length} of ${plural(total, 'version')}, newest first.`
      : `${plural(total, 'version')}, newest first.`);
    if (focusKey && !list.contains(document.activeElement)) {
      const row = rows.get(activeRow.dataset.versionId)?.li;
      (row?.querySelector(focusKey) || row?.querySelector('.toggle'))?.focus();
    }
    newVersion?.hint(shown[0]?.version);
    rollback?.update(shown, shown.length >= total);
    minimum.update(ctx.program, shown);
  }

  function renderRow(version) {
    const isOpen = expanded.has(version.id);
    const panelId = newId('release');
    const titleId = newId('version');
    const toggle = h('button.toggle.secondary', {
      type: 'button', 'aria-expanded': String(isOpen), 'aria-controls': panelId, 'aria-describedby': titleId,
      onclick: () => {
        if (expanded.has(version.id)) expanded.delete(version.id);
        else expanded.add(version.id);
        renderList();
      },
    }, 'Release');
    return h('li.version', { 'data-version-id': version.id, 'data-status': version.status },
      h('div.version-head',
        h('h3.version-number', { id: titleId }, version.version),
        h('span.badge', { 'data-status': version.status }, statusWords(version)),
        h('span.version-desc', version.description || ''),
        toggle),
      offlineReasonEl(version),
      h('div.release-panel', { id: panelId, hidden: !isOpen }, isOpen ? releasePanel(version) : null));
  }

  function releasePanel(version) {
    const mode = MODE[version.updateMode];
    // PENDING: the version follows the global mode until it is submitted.
    const explanation = version.updateModeSource === 'PENDING'
      ? `The Update Mode (${mode}) indicates the mode that the version will finally execute. The update mode takes effect with this version after it is submitted for release approval.${
        ctx.program.updateModeEditable ? ' You can still edit it with the Update Mode button.' : ''}`
      : `The Update Mode (${mode}) indicates the mode that is actually released for this version.`;
    const facts = [
      ['Created', timeEl(version.createdAt)],
      version.submittedAt && ['Submitted for release approval', timeEl(version.submittedAt)],
      version.decidedBy && [version.status === 'REJECTED' ? 'Rejected by' : 'Approved by',
        [version.decidedBy, version.decidedAt ? [', ', timeEl(version.decidedAt)] : '']],
      version.decisionComment && ['Comment', version.decisionComment],
      version.releasedAt && ['Released', timeEl(version.releasedAt)],
      version.offlineReason && ['Rolled back because', version.offlineReason],
    ].filter(Boolean);
    return [
      h('dl.facts',
        h('div', h('dt', 'Update Mode'), h('dd.version-update-mode', mode)),
        facts.map(([term, value]) => h('div', h('dt', term), h('dd', value)))),
      h('p.update-mode-explanation', explanation),
      version.rollout && rolloutProgress({ version, mayControl: session.may('RELEASE'), mutate: (change) => mutate(version, change) }),
      actions(version),
      h('p.result.row-status'),
    ];
  }

  /**
   * Sends a change of the version from its panel and reads what it
   * changed again; onAnswer runs in between (a dialog closes). `focus`
   * names the control that takes the focus in the rebuilt row.
   */
  function mutate(version, { button, errorEl, query, input, done, fields, focus = button.dataset.action, onAnswer }) {
    return act(button, errorEl, async () => {
      const shownStatus = rows.get(version.id)?.li.querySelector('.row-status');
      if (shownStatus) say(shownStatus, '');
      const data = Object.values(await graphql(query, { input: { versionId: version.id, ...input } }))[0];
      onAnswer?.();
      await refresh([data.miniProgramVersion.id, ...(data.offlineVersions || []).map((v) => v.id)]);
      // The row was rebuilt for its new status: the message and the
      // focus go to the new one (rather than to the toggle that the
      // rebuild falls back on when the focused control is gone).
      const row = rows.get(version.id)?.li;
      if (row) {
        say(row.querySelector('.row-status'), done);
        const toggle = row.querySelector('.toggle');
        const lost = document.activeElement === document.body || document.activeElement === toggle;
        if (!button.isConnected && lost) (row.querySelector(`[data-action="${focus}"]`) || toggle).focus();
      }
      say(liveMessage, done);
    }, fields);
  }

  function actions(version) {
    const allowed = new Set(version.availableActions || []);
    if (!allowed.size) return null;
    const errorEl = h('p.error', { role: 'alert' });
    const parts = [];
    const run = (button, query, input, done, fields) => mutate(version, { button, errorEl, query, input, done, fields });
    const button = (action, label, onclick, cls = '') => h(`button${cls}`, { type: 'button', 'data-action': action, onclick: (e) => onclick(e.currentTarget) }, label);

    if (allowed.has('SUBMIT_FOR_RELEASE_APPROVAL')) {
      parts.push(h('div.actions', button('submit', 'Submit for release approval',
        (b) => run(b, MUTATIONS.submit, {}, `${version.version} was submitted for release approval.`))));
    }
    if (allowed.has('APPROVE') || allowed.has('REJECT')) {
      const [commentField, comment] = field('Comment (optional)', h('textarea.decision-comment', { rows: 2 }));
      const decide = (b, decision, done) => run(b, MUTATIONS.decide, { decision, comment: comment.value.trim() || null }, done, { comment });
      parts.push(h('div.group', commentField, h('div.actions',
        allowed.has('APPROVE') && button('approve', 'Approve', (b) => decide(b, 'APPROVE', `${version.version} was approved.`)),
        allowed.has('REJECT') && button('reject', 'Reject', (b) => decide(b, 'REJECT', `${version.version} was rejected.`), '.danger'))));
    }
    // While a plan holds the share, its controls change it, not a manual release.
    if (allowed.has('RELEASE') && !isActive(version.rollout)) {
      const [percentField, percent] = field('Gray release percentage',
        h('input.gray-percentage', { type: 'number', step: 1, inputMode: 'numeric' }),
        version.grayPercentage ? `Released to ${version.grayPercentage} % of devices now.` : 'The share of devices, in percent.');
      parts.push(h('div.group', percentField, h('div.actions',
        button('gray-release', 'Gray release', (b) => {
          // An empty field would read as null, which is a full release.
          const value = percent.value.trim() === '' ? NaN : Number(percent.value);
          if (!Number.isInteger(value)) {
            say(errorEl, 'Enter the percentage as a whole number.');
            percent.focus();
            return;
          }
          run(b, MUTATIONS.release, { grayPercentage: value }, `${version.version} is released to ${value} % of devices.`, { grayPercentage: percent });
        }),
        button('full-release', 'Full release', (b) => run(b, MUTATIONS.release, { grayPercentage: null }, `${version.version} is released to all devices.`)))));
      if (!drafts.has(version.id)) drafts.set(version.id, defaultDraft(version));
      parts.push(rolloutEditor({
        draft: drafts.get(version.id),
        start: (b, steps, fields, stepsError) => mutate(version, {
          button: b, errorEl: stepsError, query: ROLLOUT_MUTATIONS.start, input: { steps }, fields, focus: 'pause',
          onAnswer: () => drafts.delete(version.id),
          done: `The rollout of ${version.version} started at ${steps[0].percentage} % of devices.`,
        }),
      }));
    }
    if (allowed.has('TAKE_OFFLINE')) {
      parts.push(h('div.actions', button('offline', 'Take offline',
        (b) => run(b, MUTATIONS.offline, {}, `${version.version} was taken offline.`), '.danger')));
    }
    return h('div.version-actions', h('h4', 'Release steps'), parts, errorEl);
  }

  function newVersionForm() {
    const [numberField, number] = field('Version number', h('input.new-version-number', {
      type: 'text', required: true, autocomplete: 'off', placeholder: 'e.g. 1.5.0',
    }), ' ');
    const [descField, desc] = field('Description (optional)', h('input.new-version-description', { type: 'text' }));
    const errorEl = h('p.error', { role: 'alert' });
    const status = h('p.result', { role: 'status' });
    const submit = h('button', { type: 'submit' }, 'Create version');
    const form = h('form.card.new-version', { noValidate: true, 'aria-labelledby': 'new-version-heading' },
      h('h2#new-version-heading', 'New version'), numberField, descField, errorEl, h('div.actions', submit), status);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      say(status, '');
      act(submit, errorEl, async () => {
        const input = { miniProgramId: ctx.id, version: number.value.trim(), description: desc.value.trim() || null };
        const data = await graphql(MUTATIONS.create, { input });
        const version = data.createMiniProgramVersion.miniProgramVersion;
        await versions.reload();
        form.reset();
        say(status, `Version ${version.version} created in New Version Created; it will execute ${MODE[version.updateMode]}.`);
      }, { version: number, description: desc });
    });
    const hintEl = numberField.querySelector('.hint');
    return {
      el: form,
      hint: (newest) => say(hintEl, newest ? `The newest version is ${newest}.` : 'The first version of this mini program.'),
    };
  }

  return {
    el,
    update(program) {
      modeSection.update(program);
      // A program read afresh (a change of its mode, a reconnection): its
      // versions are read again too, since New Version Created ones follow
      // the mode and events may have been missed.
      if (program !== shownProgram) {
        shownProgram = program;
        versions.reload();
      } else renderList();
    },
    modeChanged: modeSection.modeChanged,
    versionChanged: ({ id }) => refresh([id]),
    leave: modeSection.leave,
  };
}

function focusSelector(el) {
  if (el.dataset.action) return `[data-action="${el.dataset.action}"]`;
  if (el.dataset.focusKey) return `[data-focus-key="${el.dataset.focusKey}"]`;
  const cls = ['toggle', 'decision-comment', 'gray-percentage'].find((c) => el.classList.contains(c));
  return cls ? `.${cls}` : null;
}

function keepInputs(from, to) {
  for (const cls of ['decision-comment', 'gray-percentage']) {
    const a = from.querySelector(`.${cls}`);
    const b = to.querySelector(`.${cls}`);
    if (a && b) b.value = a.value;
  }
}
