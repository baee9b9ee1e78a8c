// Acting on many tenants: the bar shown while tenants are selected, the confirmation that says
// how many tenants and which action, and the bulk run's live progress (its SSE stream).

import { api, streamUrl } from '../api.js';
import { h, icon } from '../dom.js';
import { LiveStream } from '../sse.js';
import { confirmDialog } from './components.js';

export const BULK_ACTIONS = [
  { action: 'retry', label: 'Retry', rule: 'Failed or Cancelled' },
  { action: 'cancel', label: 'Cancel', rule: 'Pending or Provisioning' },
  { action: 'activate', label: 'Activate', rule: 'Active' },
  { action: 'deactivate', label: 'Deactivate', rule: 'Active' },
  { action: 'delete', label: 'Delete', rule: 'Active, Failed or Cancelled', tone: 'danger' },
];

const plural = (n) => `${n.toLocaleString()} ${n === 1 ? 'tenant' : 'tenants'}`;

/** Ask, then start the bulk action; resolves to `{id, total}` or null when declined. */
export async function startBulk({ action, target, count }) {
  const meta = BULK_ACTIONS.find((a) => a.action === action);
  const confirmed = await confirmDialog({
    title: `${meta.label} ${plural(count)}?`,
    body:
      `Each tenant is checked on its own: only a tenant that is ${meta.rule} is changed, the ` +
      'others are skipped with the reason.' +
      (action === 'delete' ? ' Deleting drops each tenant’s data and cannot be undone.' : ''),
    confirm: `${meta.label} ${plural(count)}`,
    tone: meta.tone === 'danger' ? 'danger' : 'primary',
  });
  if (!confirmed) return null;
  return api.startBulk({ action, ...target });
}

/** A card following one bulk run until it finishes; `onFinish` runs once at the end. */
export function bulkProgress(accepted, action, { onFinish, onClose }) {
  const meta = BULK_ACTIONS.find((a) => a.action === action);
  const title = h('p.bulk-title', {}, `${meta.label}: starting…`);
  const bar = h('progress.bulk-meter', { max: Math.max(1, accepted.total), value: 0 });
  const counts = h('p.bulk-counts', { 'aria-live': 'polite' });
  const problems = h('div');
  const close = h(
    'button.button.button--ghost',
    { type: 'button', 'aria-label': 'Close', onclick: () => done() },
    icon('x'),
  );
  const el = h(
    'section.card.bulk-progress',
    { 'data-bulk-id': accepted.id, 'aria-label': 'Bulk action' },
    h('div.bulk-head', {}, title, close),
    bar,
    counts,
    problems,
  );
  let finished = false;
  const stream = new LiveStream(() => streamUrl(`/api/tenants/bulk/${accepted.id}/events`), {
    events: { progress: show },
    beforeReconnect: async () => {
      const state = await api.bulk(accepted.id);
      show(state);
      return !state.finished;
    },
  });

  function show(state) {
    const settled = state.done + state.skipped + state.failed;
    bar.value = settled;
    el.dataset.finished = String(state.finished);
    title.textContent = state.finished
      ? `${meta.label}: finished${state.cancelled ? ' (cancelled)' : ''}`
      : `${meta.label}: ${settled.toLocaleString()} of ${plural(state.total)}`;
    counts.textContent = [
      `${state.done.toLocaleString()} done`,
      `${state.skipped.toLocaleString()} skipped`,
      `${state.failed.toLocaleString()} failed`,
      state.running ? `${state.running} running` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    const notDone = state.outcomes.filter((o) => o.outcome !== 'done');
    problems.replaceChildren(
      notDone.length
        ? h(
            'details.bulk-details',
            {},
            h('summary', {}, `Skipped or failed (${notDone.length.toLocaleString()})`),
            h(
              'ul.bulk-list',
              {},
              notDone.slice(0, 200).map((o) =>
                h(
                  'li',
                  { 'data-outcome': o.outcome, 'data-tenant-id': o.tenantId },
                  h('a.mono', { href: `#/tenants/${encodeURIComponent(o.tenantId)}` }, o.tenantId),
                  ` ${o.outcome}: ${o.detail ?? ''}`,
                ),
              ),
            ),
          )
        : '',
    );
    if (state.finished && !finished) {
      finished = true;
      stream.stop();
      onFinish?.(state);
    }
  }

  function done() {
    stream.stop();
    el.remove();
    onClose?.();
  }

  stream.start();
  return { el, stop: () => stream.stop() };
}
