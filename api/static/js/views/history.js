// A tenant's history: every workflow run (provision, retries, updates, delete), newest first,
// each with its outcome, its error, its steps on demand and its page in the Temporal Web UI.

import { api } from '../api.js';
import { h, icon, spinner } from '../dom.js';
import { formatDuration } from '../format.js';
import { timeText } from './components.js';
import { stepList } from './steps.js';

const RECHECK_MS = 2_000;
const TONES = {
  Running: 'info',
  Completed: 'success',
  Failed: 'danger',
  Cancelled: 'warning',
  Terminated: 'danger',
  TimedOut: 'danger',
};

export function historyCard(tenantId) {
  const body = h('div', {}, h('p.placeholder', {}, spinner(), ' Loading the runs…'));
  const el = h(
    'section.card.history-card',
    { 'aria-labelledby': 'history-title' },
    h('div.card-head', {}, h('h2.card-title', { id: 'history-title' }, 'History')),
    body,
  );
  const open = new Set(); // run ids whose steps are shown
  let loaded = null;
  let request = 0;
  let timer;

  async function refresh() {
    const mine = ++request;
    clearTimeout(timer);
    try {
      const runs = await api.tenantRuns(tenantId);
      if (mine !== request) return;
      // A running run changes state soon (and visibility trails the run by a moment).
      if (runs.some((run) => run.status === 'Running')) timer = setTimeout(refresh, RECHECK_MS);
      const key = JSON.stringify(runs);
      if (key === loaded) return;
      loaded = key;
      // Wider than a phone: the table scrolls inside the card, not the page sideways.
      body.replaceChildren(
        runs.length
          ? h('div.table-scroll', {}, table(runs))
          : h('p.placeholder', {}, 'No runs yet.'),
      );
    } catch (error) {
      if (mine !== request || error.status === 401) return;
      body.replaceChildren(
        h(
          'p.placeholder',
          {},
          `Could not load the runs: ${error.message} `,
          h('button.link', { type: 'button', onclick: refresh }, 'Try again'),
        ),
      );
    }
  }

  function table(runs) {
    return h(
      'table.table.runs',
      {},
      h('caption.visually-hidden', {}, 'Workflow runs, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Run', 'Outcome', 'Started', 'Took', ''].map((label) =>
            h('th', { scope: 'col' }, label),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        runs.map((run) => rows(run)),
      ),
    );
  }

  function rows(run) {
    const details = h('tr.run-steps', { hidden: !open.has(run.runId) }, h('td', { colspan: 5 }));
    const toggle = h(
      'button.link',
      {
        type: 'button',
        'aria-expanded': String(open.has(run.runId)),
        onclick: () => showSteps(run, toggle, details),
      },
      'Steps',
    );
    if (open.has(run.runId)) showSteps(run, toggle, details, true);
    return [
      h(
        'tr.run',
        { 'data-run-id': run.runId, 'data-status': run.status },
        h('td', {}, h('strong', {}, run.label), h('div.mono.subtle.break', {}, run.workflowId)),
        h(
          'td',
          {},
          h('span.badge', { class: `badge--${TONES[run.status] ?? 'neutral'}` }, run.status),
          run.tenantStatus && h('span.subtle', {}, ` → ${run.tenantStatus}`),
          run.error && h('p.row-error', { title: run.error }, run.error),
        ),
        h('td.nowrap', {}, timeText(run.startedAt)),
        h('td.nowrap', {}, run.closedAt ? formatDuration(run.startedAt, run.closedAt) : '—'),
        h(
          'td.nowrap',
          {},
          toggle,
          ' · ',
          h(
            'a.external',
            { href: run.webUrl, target: '_blank', rel: 'noopener noreferrer' },
            'Web UI',
            icon('external'),
            h('span.visually-hidden', {}, ' (opens in a new tab)'),
          ),
        ),
      ),
      details,
    ];
  }

  async function showSteps(run, toggle, details, keepOpen = false) {
    const cell = details.firstChild;
    if (!keepOpen && open.has(run.runId)) {
      open.delete(run.runId);
      details.hidden = true;
      toggle.setAttribute('aria-expanded', 'false');
      return;
    }
    open.add(run.runId);
    details.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    cell.replaceChildren(h('p.placeholder', {}, spinner(), ' Loading the steps…'));
    try {
      const snapshot = await api.tenantRun(tenantId, run.runId);
      // Without steps (terminated, or cancelled with no worker), the run's error says why.
      cell.replaceChildren(
        ...(snapshot.steps.length
          ? [stepList(snapshot.steps)]
          : [
              h('p.placeholder', {}, 'No step details are available for this run.'),
              snapshot.error ? h('pre.step-error', {}, snapshot.error) : '',
            ]),
      );
    } catch (error) {
      cell.replaceChildren(h('p.placeholder', {}, `Could not load the steps: ${error.message}`));
    }
  }

  refresh();
  return {
    el,
    refresh,
    cleanup() {
      request += 1;
      clearTimeout(timer);
    },
  };
}
