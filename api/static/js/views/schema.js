// The tenant schema across the fleet: which revision each tenant is on (a bar per revision),
// a form to roll a revision out (or back) to every Active tenant, and the rollouts, the newest
// one live: a progress bar, its counts, the failed tenants, and pause/resume/cancel/retry.

import { api, ApiError, streamUrl } from '../api.js';
import { h } from '../dom.js';
import { formatDate } from '../format.js';
import { LiveStream } from '../sse.js';
import { busy, confirmDialog, field, formAlert, setFieldErrors, showAlert } from './components.js';

const FINAL = new Set(['Completed', 'Failed', 'Cancelled']);
const TONES = {
  Running: 'info',
  Paused: 'warning',
  Completed: 'success',
  Failed: 'danger',
  Cancelled: 'neutral',
};
const UNKNOWN = 'not recorded';
const plural = (n, word) => `${Number(n).toLocaleString()} ${n === 1 ? word : `${word}s`}`;

/** Tenants per revision, whichever shape the API gives (a list of pairs or a map). */
function countsOf(schema) {
  const counts = new Map();
  const given = schema.counts ?? {};
  const pairs = Array.isArray(given)
    ? given.map((c) => [c.revision ?? UNKNOWN, c.tenants ?? c.count ?? 0])
    : Object.entries(given);
  for (const [revision, n] of pairs) counts.set(revision ?? UNKNOWN, Number(n));
  for (const r of schema.revisions ?? []) {
    if (r.tenants != null && !counts.has(r.id)) counts.set(r.id, Number(r.tenants));
  }
  return counts;
}

function revisionBars(schema) {
  const counts = countsOf(schema);
  const most = Math.max(1, ...counts.values());
  // Revisions this app does not know (a newer deployment's, or none recorded) after the known.
  const known = new Set((schema.revisions ?? []).map((r) => r.id));
  const others = [...counts.keys()]
    .filter((id) => !known.has(id) && counts.get(id) > 0)
    .map((id) => ({
      id,
      description:
        id === UNKNOWN ? 'tenants whose revision was never recorded' : 'not a revision of this app',
    }));
  const rows = [...others, ...[...(schema.revisions ?? [])].reverse()].map((revision) => {
    const n = counts.get(revision.id) ?? 0;
    return h(
      'li.revision',
      { 'data-revision': revision.id },
      h(
        'div.revision-name',
        {},
        h(
          'div.revision-id',
          {},
          h('span.mono', {}, revision.id),
          revision.id === schema.head ? h('span.tag', {}, 'head') : '',
        ),
        h('div.subtle.revision-description', {}, revision.description ?? ''),
      ),
      h(
        'div.revision-bar',
        { role: 'img', 'aria-label': `${plural(n, 'tenant')} on ${revision.id}` },
        h('span.revision-fill', { style: `width: ${(100 * n) / most}%` }),
      ),
      h('span.revision-count', { 'data-count': String(n) }, plural(n, 'tenant')),
    );
  });
  const migrating = Number(schema.migrating ?? 0);
  return h(
    'section.card',
    { 'aria-labelledby': 'revisions-title' },
    h(
      'div.card-head',
      {},
      h('h2.card-title', { id: 'revisions-title' }, 'Revisions'),
      h(
        'p.subtle',
        {},
        migrating ? `${plural(migrating, 'tenant')} migrating now` : 'Newest first',
      ),
    ),
    h('ul.revisions', {}, rows),
  );
}

function rolloutForm(schema, onStarted) {
  const target = h(
    'select.input.mono',
    { name: 'targetRevision', id: 'field-targetRevision' },
    h('option', { value: 'head' }, `head (${schema.head})`),
    [...(schema.revisions ?? [])]
      .reverse()
      .map((r) => h('option', { value: r.id }, `${r.id} ${r.description ?? ''}`)),
  );
  const alert = formAlert();
  const form = h(
    'form.card.card--form.stack',
    { novalidate: true, 'aria-labelledby': 'rollout-form-title' },
    h('h2.card-title', { id: 'rollout-form-title' }, 'Roll out a revision'),
    h(
      'p.subtle',
      {},
      'Every Active tenant is migrated to the target, a few at a time; an older target rolls ' +
        'them back. The canary tenants go first, alone.',
    ),
    alert,
    h(
      'div.field',
      { 'data-field': 'targetRevision' },
      h('label.label', { for: 'field-targetRevision' }, 'Target revision'),
      target,
      h('p.field-error', { id: 'field-targetRevision-error', hidden: true }),
    ),
    h(
      'div.grid-2',
      {},
      field({ name: 'concurrency', label: 'Concurrency', type: 'number', min: 1, max: 50, value: 5 }),
      field({ name: 'canary', label: 'Canary tenants', type: 'number', min: 0, value: 1 }),
      field({
        name: 'maxFailures',
        label: 'Failures before pausing',
        type: 'number',
        min: 0,
        value: 0,
      }),
    ),
    field({
      name: 'tenantIds',
      label: 'Only these tenants (optional)',
      hint: 'Tenant IDs separated by spaces or commas; empty means every Active tenant.',
      class: 'mono',
    }),
    h(
      'div.form-actions',
      {},
      h('button.button.button--primary-solid', { type: 'submit' }, 'Start rollout'),
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const number = (name) => Number.parseInt(String(data.get(name)), 10);
    const body = {
      targetRevision: String(data.get('targetRevision')),
      concurrency: number('concurrency'),
      canary: number('canary'),
      maxFailures: number('maxFailures'),
    };
    const only = String(data.get('tenantIds') ?? '')
      .split(/[\s,]+/)
      .filter(Boolean);
    if (only.length) body.tenantIds = only;
    // Checked before asking: a confirmed rollout should not come back as a 422.
    const within = (n, low, high = Infinity) => Number.isInteger(n) && n >= low && n <= high;
    const invalid = Object.fromEntries(
      [
        ['concurrency', within(body.concurrency, 1, 50), 'Between 1 and 50'],
        ['canary', within(body.canary, 0), '0 or more'],
        ['maxFailures', within(body.maxFailures, 0), '0 or more'],
      ]
        .filter(([, ok]) => !ok)
        .map(([name, , message]) => [name, message]),
    );
    showAlert(alert, null);
    const first = setFieldErrors(form, invalid);
    if (first) {
      first.focus();
      return;
    }
    const rolling = body.targetRevision === 'head' ? schema.head : body.targetRevision;
    const ok = await confirmDialog({
      title: `Migrate ${only.length ? plural(only.length, 'tenant') : 'every Active tenant'} to ${rolling}?`,
      body:
        `${plural(body.canary, 'canary tenant')} first, then ${body.concurrency} at a time; the ` +
        `rollout pauses after ${plural(body.maxFailures + 1, 'failed tenant')}. Each tenant is ` +
        'migrated in one transaction: a failure or a cancel leaves it on its current revision.',
      confirm: 'Start rollout',
      tone: 'primary',
    });
    if (!ok) return;
    setFieldErrors(form, {});
    showAlert(alert, null);
    try {
      const accepted = await busy(form, () => api.startMigration(body));
      onStarted(accepted);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) setFieldErrors(form, error.fieldErrors);
      showAlert(alert, error.message);
    }
  });
  return form;
}

function counts(state) {
  return [
    ['succeeded', 'migrated'],
    ['skipped', 'skipped'],
    ['failed', 'failed'],
    ['running', 'running'],
    ['pending', 'waiting'],
  ].map(([key, label]) =>
    h('span.rollout-count', { 'data-count': key }, `${Number(state[key] ?? 0).toLocaleString()} ${label}`),
  );
}

function controls(state, refresh) {
  const act = (label, verb, tone = 'button--ghost', ask = null) =>
    h(
      `button.button.${tone}`,
      {
        type: 'button',
        'data-action': verb,
        onclick: async (event) => {
          if (ask && !(await confirmDialog(ask))) return;
          event.target.disabled = true;
          try {
            refresh(await api.migrationAction(state.id, verb));
          } catch (error) {
            event.target.disabled = false;
            showAlert(event.target.closest('section').querySelector('.alert'), error.message);
          }
        },
      },
      label,
    );
  const buttons = [];
  if (state.status === 'Running') buttons.push(act('Pause', 'pause'));
  if (state.status === 'Paused') buttons.push(act('Resume', 'resume', 'button--primary'));
  if (!FINAL.has(state.status))
    buttons.push(
      act('Cancel rollout', 'cancel', 'button--danger', {
        title: 'Cancel this rollout?',
        body:
          'No further tenant is started; tenants migrating now finish or roll back their own ' +
          'transaction. Every tenant stays on one revision or the other.',
        confirm: 'Cancel rollout',
      }),
    );
  // An open rollout retries its failed tenants itself; a finished one cannot be reopened: the
  // form takes its failed tenants for a new rollout instead.
  if (Number(state.failed ?? 0) > 0 && !FINAL.has(state.status))
    buttons.push(act('Retry failed tenants', 'retry', 'button--primary'));
  const failedIds = (state.failures ?? []).map((f) => f.tenantId);
  if (FINAL.has(state.status) && failedIds.length)
    buttons.push(
      h(
        'button.button.button--ghost',
        {
          type: 'button',
          'data-action': 'again',
          onclick: () => {
            const input = document.getElementById('field-tenantIds');
            if (!input) return;
            input.value = failedIds.join(' ');
            input.focus();
          },
        },
        `New rollout for the ${plural(failedIds.length, 'failed tenant')}`,
      ),
    );
  return h('div.page-actions', {}, buttons);
}

/** A rollout's card; live while it runs. */
function rolloutCard(initial, { onFinish }) {
  const el = h('section.card.rollout', { 'aria-label': 'Rollout', 'data-rollout-id': initial.id });
  let stream = null;

  function show(state) {
    const settled =
      Number(state.succeeded ?? 0) + Number(state.skipped ?? 0) + Number(state.failed ?? 0);
    const total = Math.max(1, Number(state.total ?? 0));
    el.dataset.status = state.status;
    el.replaceChildren(
      h(
        'div.card-head',
        {},
        h(
          'h2.card-title',
          {},
          `Rollout ${state.id} to `,
          h('span.mono', {}, state.targetRevision ?? ''),
        ),
        h('span.badge', { class: `badge--${TONES[state.status] ?? 'neutral'}` }, state.status),
      ),
      h(
        'p.subtle',
        {},
        `${settled.toLocaleString()} of ${plural(state.total ?? 0, 'tenant')}`,
        state.startedAt ? ` · started ${formatDate(state.startedAt)}` : '',
        state.finishedAt ? ` · finished ${formatDate(state.finishedAt)}` : '',
      ),
      h('progress.bulk-meter', { max: total, value: settled, 'aria-label': 'Rollout progress' }),
      h('p.rollout-counts', { 'aria-live': 'polite' }, counts(state)),
      formAlert(),
      (state.failures ?? []).length
        ? h(
            'details.bulk-details',
            { open: true },
            h('summary', {}, `Failed tenants (${state.failures.length.toLocaleString()})`),
            h(
              'ul.bulk-list',
              {},
              state.failures.slice(0, 200).map((f) =>
                h(
                  'li',
                  { 'data-tenant-id': f.tenantId },
                  h('a.mono', { href: `#/tenants/${encodeURIComponent(f.tenantId)}` }, f.tenantId),
                  ` ${f.error ?? ''}`,
                ),
              ),
            ),
          )
        : '',
      (state.skips ?? []).length
        ? h(
            'details.bulk-details',
            {},
            h('summary', {}, `Skipped tenants (${state.skips.length.toLocaleString()} listed)`),
            h(
              'ul.bulk-list',
              {},
              state.skips.map((skip) =>
                h(
                  'li',
                  { 'data-tenant-id': skip.tenantId, 'data-outcome': 'skipped' },
                  h(
                    'a.mono',
                    { href: `#/tenants/${encodeURIComponent(skip.tenantId)}` },
                    skip.tenantId,
                  ),
                  ` ${skip.reason ?? ''}`,
                ),
              ),
            ),
          )
        : '',
      controls(state, show),
    );
    if (FINAL.has(state.status) && stream) {
      // Finished while on screen (not when shown finished): the page reloads its counts.
      stream.stop();
      stream = null;
      onFinish?.(state);
    }
  }

  show(initial);
  if (!FINAL.has(initial.status)) {
    stream = new LiveStream(
      () => streamUrl(`/api/migrations/${encodeURIComponent(initial.id)}/events`),
      {
        events: { progress: show },
        beforeReconnect: async () => {
          const state = await api.migration(initial.id);
          show(state);
          return !FINAL.has(state.status);
        },
      },
    );
    stream.start();
  }
  return { el, stop: () => stream?.stop() };
}

export function mountSchema(main) {
  document.title = 'Schema · Tenantflow';
  const head = h(
    'div.page-head',
    {},
    h('h1', { tabindex: '-1' }, 'Tenant schema'),
    h('p.subtle', {}, 'Which revision each tenant is on, and rollouts of a new one.'),
  );
  const body = h('div.stack', {}, h('p.loading', {}, 'Loading…'));
  main.replaceChildren(head, body);
  let cards = [];
  let stopped = false;

  async function load() {
    let schema;
    let rollouts;
    try {
      [schema, rollouts] = await Promise.all([api.schema(), api.migrations()]);
    } catch (error) {
      body.replaceChildren(h('div.alert.alert--danger', { role: 'alert' }, error.message));
      return;
    }
    if (stopped) return;
    for (const card of cards) card.stop();
    const items = Array.isArray(rollouts) ? rollouts : (rollouts?.items ?? []);
    cards = items.slice(0, 5).map((r) => rolloutCard(r, { onFinish: () => load() }));
    const running = items.some((r) => !FINAL.has(r.status));
    body.replaceChildren(
      revisionBars(schema),
      running ? '' : rolloutForm(schema, () => load()),
      items.length
        ? h('h2.section-title', {}, 'Rollouts')
        : h('p.subtle', {}, 'No rollout has run yet.'),
      ...cards.map((c) => c.el),
    );
  }

  load();
  return {
    refresh: load,
    cleanup: () => {
      stopped = true;
      for (const card of cards) card.stop();
    },
  };
}
