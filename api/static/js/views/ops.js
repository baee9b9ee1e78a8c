// The operations view (root): the last hour of this deployment at a glance, from
// GET /api/ops/summary (control-plane rows and Temporal; sources in api/ops.py), refreshed every
// few seconds. The running fleet rollout, when the API has rollouts (GET /api/migrations).

import { api, ApiError } from '../api.js';
import { h } from '../dom.js';

const REFRESH_MS = 5_000;
const SVG_NS = 'http://www.w3.org/2000/svg';
// The chart is drawn for the width it gets (its text stays legible on a phone), at most 1200.
const CHART = { maxWidth: 1200, minWidth: 300, height: 240, left: 40, right: 48, top: 16, bottom: 28 };
const ROLLOUT_LIVE = new Set(['running', 'paused']);

export function mountOps(main) {
  document.title = 'Operations · Tenantflow';
  const updated = h('p.lead', { 'aria-live': 'polite' }, 'Loading…');
  const body = h('div.ops');
  main.replaceChildren(
    h('div.page-head', {}, h('div', {}, h('h1', { tabindex: '-1' }, 'Operations'), updated)),
    body,
  );
  let timer = null;
  let stopped = false;

  async function load() {
    clearTimeout(timer);
    try {
      const [summary, rollout] = await Promise.all([api.opsSummary(), runningRollout()]);
      if (stopped) return;
      const width = Math.min(CHART.maxWidth, Math.max(CHART.minWidth, body.clientWidth - 50));
      body.replaceChildren(...render(summary, rollout, width).filter(Boolean));
      updated.textContent = `The last hour, as of ${clock(summary.generatedAt, true)}. Refreshes every few seconds.`;
    } catch (error) {
      if (stopped) return;
      updated.textContent = `Cannot load the figures: ${error.message}`;
    } finally {
      if (!stopped) timer = setTimeout(load, REFRESH_MS);
    }
  }

  load();
  return {
    cleanup() {
      stopped = true;
      clearTimeout(timer);
    },
    refresh: load,
  };
}

/** The newest rollout if it is running or paused; null when none is, or the API has none. */
async function runningRollout() {
  let answer;
  try {
    answer = await api.latestRollouts();
  } catch (error) {
    if (error instanceof ApiError && error.status !== 0) return null; // no rollouts here
    throw error;
  }
  const items = Array.isArray(answer) ? answer : (answer?.items ?? []);
  const newest = items[0];
  return newest && ROLLOUT_LIVE.has(String(newest.status).toLowerCase()) ? newest : null;
}

function render(summary, rollout, width) {
  const queue = summary.taskQueue;
  const tiles = [
    tile('Created', summary.created, 'tenants in the last hour', 'created'),
    tile('Time to Active p50', seconds(summary.p50Seconds), `${summary.activated} runs`, 'p50'),
    tile('Time to Active p95', seconds(summary.p95Seconds), 'in the last hour', 'p95'),
    tile('In flight', summary.inFlight, inFlightText(summary.inFlightByStatus), 'in-flight'),
    tile('Workers', queue ? queue.workers : '—', queue ? queue.name : 'Temporal unreachable', 'workers'),
    tile(
      'Backlog',
      queue ? queue.backlog : '—',
      queue && queue.backlog ? `oldest ${seconds(queue.backlogAgeSeconds)}` : 'tasks waiting',
      'backlog',
    ),
  ];
  return [
    rollout && rolloutCard(rollout),
    h('div.ops-tiles', {}, tiles),
    h(
      'section.card.ops-chart-card',
      { 'aria-labelledby': 'ops-chart-title' },
      h(
        'div.card-head',
        {},
        h('h2.card-title', { id: 'ops-chart-title' }, 'Tenants created and time to Active'),
        legend(),
      ),
      chart(summary.minutes, width),
    ),
    failuresCard(summary.failuresByStep),
  ];
}

function tile(label, value, note, key) {
  return h(
    'div.card.ops-tile',
    { 'data-figure': key },
    h('div.ops-tile-label', {}, label),
    h('div.ops-tile-value', {}, String(value)),
    h('div.ops-tile-note', {}, note),
  );
}

function rolloutCard(rollout) {
  const done = (rollout.succeeded ?? 0) + (rollout.failed ?? 0) + (rollout.skipped ?? 0);
  const total = rollout.total ?? 0;
  const share = total ? Math.round((100 * done) / total) : 0;
  return h(
    'section.card.ops-rollout',
    { 'aria-label': 'Fleet rollout' },
    h(
      'div.card-head',
      {},
      h('h2.card-title', {}, `Fleet rollout ${rollout.status.toLowerCase()}`),
      h('span.subtle', {}, rollout.targetRevision ? `to revision ${rollout.targetRevision}` : ''),
    ),
    h('progress.ops-rollout-bar', { max: total || 1, value: done, 'aria-label': `${share}% done` }),
    h(
      'p.subtle',
      {},
      `${done} of ${total} tenants: ${rollout.succeeded ?? 0} migrated, ${rollout.failed ?? 0} failed, ${rollout.skipped ?? 0} skipped, ${rollout.running ?? 0} running`,
    ),
  );
}

function failuresCard(failures) {
  const content = failures.length
    ? h(
        'table.table.ops-failures',
        {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Workflow'), h('th', {}, 'Step'), h('th.num', {}, 'Failed runs'))),
        h(
          'tbody',
          {},
          failures.map((f) =>
            h(
              'tr',
              { 'data-step': f.step },
              h('td', {}, f.workflowType),
              h('td', {}, h('code', {}, f.step)),
              h('td.num', {}, String(f.count)),
            ),
          ),
        ),
      )
    : h('p.subtle', {}, 'No run failed in the last hour.');
  return h(
    'section.card.ops-failures-card',
    { 'aria-label': 'Failures by step' },
    h('div.card-head', {}, h('h2.card-title', {}, 'Failures by step')),
    content,
  );
}

function legend() {
  const item = (cls, text) => h('span.ops-legend-item', {}, h(`span.ops-swatch.${cls}`), text);
  return h(
    'div.ops-legend',
    {},
    item('ops-swatch--created', 'Created per minute'),
    item('ops-swatch--p50', 'p50 time to Active'),
    item('ops-swatch--p95', 'p95 time to Active'),
  );
}

/** Bars: tenants created per minute (left axis). Lines: p50/p95 time to Active (right axis). */
function chart(minutes, width) {
  const { height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxCreated = niceMax(Math.max(1, ...minutes.map((m) => m.created)));
  const maxSeconds = niceMax(Math.max(0.1, ...minutes.map((m) => m.p95Seconds ?? 0)));
  const step = plotW / minutes.length;
  const x = (i) => left + i * step;
  const yCount = (v) => top + plotH - (v / maxCreated) * plotH;
  const ySeconds = (v) => top + plotH - (v / maxSeconds) * plotH;
  const total = minutes.reduce((sum, m) => sum + m.created, 0);
  const svg = svgEl('svg', {
    class: 'ops-chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `${total} tenants created in the last hour; time to Active per minute`,
  });
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotH - fraction * plotH;
    svg.append(
      svgEl('line', { class: 'ops-grid', x1: left, x2: width - right, y1: y, y2: y }),
      svgText(left - 6, y + 4, formatCount(fraction * maxCreated), 'end'),
      svgText(width - right + 6, y + 4, seconds(fraction * maxSeconds), 'start'),
    );
  }
  minutes.forEach((m, i) => {
    if (m.created) {
      const y = yCount(m.created);
      const bar = svgEl('rect', {
        class: 'ops-bar',
        x: x(i) + 1,
        y,
        width: Math.max(1, step - 2),
        height: top + plotH - y,
      });
      bar.append(svgEl('title', {}, `${clock(m.minute)}: ${m.created} created`));
      svg.append(bar);
    }
    if (i % 15 === 0) svg.append(svgText(x(i), height - 8, clock(m.minute), 'start'));
  });
  for (const [key, cls] of [
    ['p50Seconds', 'ops-line--p50'],
    ['p95Seconds', 'ops-line--p95'],
  ]) {
    const points = minutes
      .map((m, i) => (m[key] == null ? null : `${x(i) + step / 2},${ySeconds(m[key])}`))
      .filter(Boolean);
    if (!points.length) continue;
    svg.append(svgEl('polyline', { class: `ops-line ${cls}`, points: points.join(' ') }));
    minutes.forEach((m, i) => {
      if (m[key] == null) return;
      const dot = svgEl('circle', { class: `ops-dot ${cls}`, cx: x(i) + step / 2, cy: ySeconds(m[key]), r: 2.5 });
      dot.append(svgEl('title', {}, `${clock(m.minute)}: ${key.slice(0, 3)} ${seconds(m[key])}`));
      svg.append(dot);
    });
  }
  return svg;
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text != null) el.textContent = text;
  return el;
}

function svgText(x, y, text, anchor) {
  return svgEl('text', { class: 'ops-axis', x, y, 'text-anchor': anchor }, text);
}

/** 1, 2 or 5 times a power of ten, at least `value`. */
function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((f) => f * power).find((candidate) => candidate >= value);
}

function formatCount(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function seconds(value) {
  if (value == null) return '—';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

function clock(iso, withSeconds = false) {
  const options = { hour: '2-digit', minute: '2-digit', hour12: false };
  if (withSeconds) options.second = '2-digit';
  return new Date(iso).toLocaleTimeString([], options);
}

function inFlightText(byStatus) {
  const parts = Object.entries(byStatus ?? {}).map(([status, count]) => `${count} ${status}`);
  return parts.length ? parts.join(', ') : 'nothing under way';
}
