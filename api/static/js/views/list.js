// The tenant list, for fleets of thousands: status tabs with counts, a server-side search,
// sortable columns and keyset paging. Only the page on screen is loaded; it stays live through
// progress streams for work in flight, notifications for outcomes, and a slow refresh (and one
// on returning to the tab) for changes made elsewhere.

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { isBusy, STATUSES, storageText } from '../format.js';
import * as streams from '../streams.js';
import { store } from '../store.js';
import { ROOT_TENANT_ID as ROOT } from './actions.js';
import { BULK_ACTIONS, bulkProgress, startBulk } from './bulk.js';
import { deactivatedMarker, statusBadge, timeText } from './components.js';

const REFRESH_MS = 30_000;
const SEARCH_DELAY_MS = 250;
const RELOAD_DELAY_MS = 300;
const PAGE_SIZE = 50;
const TABS = [null, ...Object.keys(STATUSES)];
// Each sortable column and the direction its plain key sorts in (`-key` reverses it).
const COLUMNS = { name: 'ascending', status: 'ascending', created: 'descending' };
const BUSY = Object.keys(STATUSES).filter(isBusy);
const EVERY_BUT_DELETED = Object.keys(STATUSES).filter((status) => status !== 'Deleted');

// Kept across visits: back from a tenant's page, the list is where it was left.
// The selection: ids picked by hand, or every tenant matching the filter (`allMatching`).
const view = {
  status: null,
  q: '',
  sort: 'created',
  cursors: [null],
  selected: new Set(),
  allMatching: false,
};

export function mountList(main) {
  const search = h('input.input.search-input', {
    type: 'search',
    // A phone's field is too narrow for the long one (it showed "Search by name, ID or adr").
    placeholder: matchMedia('(max-width: 600px)').matches
      ? 'Search tenants'
      : 'Search by name, ID or admin e-mail',
    'aria-label': 'Search tenants',
    value: view.q,
    oninput: () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(applySearch, SEARCH_DELAY_MS);
    },
    onkeydown: (event) => {
      if (event.key !== 'Enter') return;
      clearTimeout(searchTimer);
      applySearch();
    },
  });
  const summary = h('p.lead', { 'aria-live': 'polite' });
  const tabs = h('div.tabs', { role: 'group', 'aria-label': 'Filter by status' });
  const tbody = h('tbody', { onchange: onRowCheck });
  const pageBox = h('input.check', {
    type: 'checkbox',
    'aria-label': 'Select every tenant on this page',
    onchange: () => selectPage(pageBox.checked),
  });
  const selectionText = h('span.bulk-selection', { 'aria-live': 'polite' });
  const matchAll = h('button.link', { type: 'button', onclick: () => selectAllMatching() });
  const bulkBar = h(
    'div.bulk-bar',
    { role: 'group', 'aria-label': 'Selected tenants', hidden: true },
    selectionText,
    matchAll,
    h(
      'div.bulk-actions',
      {},
      BULK_ACTIONS.map((meta) =>
        h(
          'button.button',
          {
            type: 'button',
            class: meta.tone === 'danger' ? 'button--danger' : null,
            'data-bulk-action': meta.action,
            onclick: () => act(meta.action),
          },
          meta.label,
        ),
      ),
      h('button.button.button--ghost', { type: 'button', onclick: clearSelection }, 'Clear'),
    ),
  );
  const bulkRuns = h('div.bulk-runs');
  const placeholder = h('div.table-state', {}, 'Loading tenants…');
  const headers = {
    name: sortHeader('name', 'Tenant'),
    status: sortHeader('status', 'Status'),
    created: sortHeader('created', 'Created', 'col-created'),
  };
  const table = h(
    'table.table',
    {},
    h('caption.visually-hidden', {}, 'Tenants'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th.col-check', { scope: 'col' }, pageBox),
        headers.name,
        headers.status,
        h('th.col-storage', { scope: 'col' }, 'Storage'),
        h('th.col-attempt', { scope: 'col' }, 'Last attempt'),
        headers.created,
      ),
    ),
    tbody,
  );
  const range = h('span.pager-range', { 'aria-live': 'polite' });
  const previous = h(
    'button.button.button--ghost',
    { type: 'button', onclick: () => turn(-1) },
    'Previous',
  );
  const next = h('button.button.button--ghost', { type: 'button', onclick: () => turn(1) }, 'Next');
  const pager = h('nav.pager', { 'aria-label': 'Pages' }, range, h('div', {}, previous, next));

  let page = null;
  let stats = null;
  let failed = null;
  let searchTimer;
  let reloadTimer = null;
  let request = 0;
  const rows = new Map();
  const runs = new Set();

  main.replaceChildren(
    h(
      'div.page-head',
      {},
      h('div', {}, h('h1', { tabindex: '-1' }, 'Tenants'), summary),
      h(
        'div.page-actions',
        {},
        h('div.search', {}, icon('search'), search),
        h('a.button.button--primary', { href: '#/new' }, icon('plus'), 'New tenant'),
      ),
    ),
    tabs,
    bulkRuns,
    bulkBar,
    h('div.card.card--flush', {}, table, placeholder, pager),
  );

  function sortHeader(key, label, extra) {
    return h(
      'th',
      { scope: 'col', class: extra },
      h(
        'button.sort',
        { type: 'button', onclick: () => sortBy(key), 'data-sort': key },
        label,
        h('span.sort-arrow', { 'aria-hidden': 'true' }),
      ),
    );
  }

  function sortBy(key) {
    view.sort = view.sort === key ? `-${key}` : key;
    restart();
  }

  function applySearch() {
    const q = search.value.trim();
    if (q === view.q) return;
    view.q = q;
    restart();
  }

  function choose(status) {
    view.status = status;
    restart();
  }

  function restart() {
    view.cursors = [null];
    clearSelection();
    load();
  }

  function onRowCheck(event) {
    const box = event.target.closest('input.check');
    const id = box?.closest('tr')?.dataset.id;
    if (!id) return;
    view.allMatching = false;
    if (box.checked) view.selected.add(id);
    else view.selected.delete(id);
    renderSelection();
  }

  // The rows of this page a bulk action may take (every one but the root tenant's).
  function selectable() {
    return (page?.ids ?? []).filter((id) => id !== ROOT);
  }

  function selectPage(checked) {
    view.allMatching = false;
    for (const id of selectable()) {
      if (checked) view.selected.add(id);
      else view.selected.delete(id);
    }
    renderSelection();
  }

  function selectAllMatching() {
    view.allMatching = !view.allMatching;
    if (!view.allMatching) view.selected.clear();
    else for (const id of selectable()) view.selected.add(id);
    renderSelection();
  }

  function clearSelection() {
    view.selected.clear();
    view.allMatching = false;
    renderSelection();
  }

  async function act(action) {
    const target = view.allMatching
      ? { filter: { status: view.status ? [view.status] : EVERY_BUT_DELETED, q: view.q } }
      : { tenantIds: [...view.selected] };
    const count = view.allMatching ? page.total : view.selected.size;
    let accepted;
    try {
      accepted = await startBulk({ action, target, count });
    } catch (error) {
      bulkRuns.prepend(h('div.alert.alert--danger', {}, `Could not start: ${error.message}`));
      return;
    }
    if (!accepted) return;
    clearSelection();
    const run = bulkProgress(accepted, action, { onFinish: () => load() });
    runs.add(run);
    bulkRuns.prepend(run.el);
    load();
  }

  function renderSelection() {
    const count = view.allMatching ? (page?.total ?? 0) : view.selected.size;
    bulkBar.hidden = count === 0;
    selectionText.textContent = view.allMatching
      ? `All ${count.toLocaleString()} matching tenants selected`
      : `${count.toLocaleString()} selected`;
    const pageIds = selectable();
    const pageAll = pageIds.length > 0 && pageIds.every((id) => view.selected.has(id));
    matchAll.hidden = !(view.allMatching || (pageAll && page.total > pageIds.length));
    matchAll.textContent = view.allMatching
      ? 'Select only the tenants picked'
      : `Select all ${(page?.total ?? 0).toLocaleString()} matching tenants`;
    pageBox.checked = view.allMatching || pageAll;
    pageBox.indeterminate = !pageBox.checked && pageIds.some((id) => view.selected.has(id));
    for (const box of tbody.querySelectorAll('input.check')) {
      box.checked = view.allMatching || view.selected.has(box.closest('tr').dataset.id);
    }
  }

  function turn(step) {
    if (step > 0 && page?.nextCursor) view.cursors.push(page.nextCursor);
    else if (step < 0 && view.cursors.length > 1) view.cursors.pop();
    else return;
    load().then(() => tbody.querySelector('a')?.focus({ preventScroll: false }));
  }

  function render() {
    renderTabs();
    renderHeaders();
    summary.textContent = stats ? summarise(stats) : '';
    const shown = page ? page.ids.map((id) => store.tenant(id)).filter(Boolean) : [];
    // A tenant the page does not hold reached the store (a notification about a new one, say):
    // it may belong on this page, so read the page again.
    if (page && store.tenants().length > shown.length) scheduleReload();
    placeholder.hidden = Boolean(page) && !failed && shown.length > 0;
    if (failed) placeholder.replaceChildren(failed);
    else if (!page) placeholder.textContent = 'Loading tenants…';
    else placeholder.textContent = emptyText();
    updateRows(shown);
    renderPager();
    renderSelection();
  }

  function scheduleReload() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      load();
    }, RELOAD_DELAY_MS);
  }

  function emptyText() {
    if (view.q) return `No tenant matches “${view.q}”.`;
    if (view.status) return `No ${view.status} tenants.`;
    return 'No tenants yet. Create the first one.';
  }

  function renderTabs() {
    const buttons = TABS.map((status) => {
      const count = stats ? tabCount(stats, status) : null;
      return h(
        'button.tab',
        {
          type: 'button',
          'aria-pressed': String(view.status === status),
          'data-status': status ?? 'all',
          class: count === 0 ? 'tab--empty' : null,
          onclick: () => choose(status),
        },
        status ?? 'All',
        count != null && h('span.tab-count', {}, count.toLocaleString()),
      );
    });
    const focused = document.activeElement?.closest('.tab')?.dataset.status;
    tabs.replaceChildren(...buttons);
    if (focused) tabs.querySelector(`[data-status="${focused}"]`)?.focus();
  }

  function renderHeaders() {
    const key = view.sort.replace(/^-/, '');
    const reversed = view.sort.startsWith('-');
    for (const [column, th] of Object.entries(headers)) {
      if (column !== key) {
        th.removeAttribute('aria-sort');
        th.querySelector('.sort-arrow').textContent = '';
        continue;
      }
      const natural = COLUMNS[column];
      const direction = reversed === (natural === 'ascending') ? 'descending' : 'ascending';
      th.setAttribute('aria-sort', direction);
      th.querySelector('.sort-arrow').textContent = direction === 'ascending' ? '▲' : '▼';
    }
  }

  function renderPager() {
    const index = view.cursors.length - 1;
    pager.hidden = !page || page.total === 0;
    if (!page) return;
    const first = index * PAGE_SIZE + 1;
    const last = index * PAGE_SIZE + page.ids.length;
    range.textContent = `${first.toLocaleString()}–${last.toLocaleString()} of ${page.total.toLocaleString()}`;
    previous.disabled = index === 0;
    next.disabled = !page.nextCursor;
  }

  function updateRows(shown) {
    const focusedId = document.activeElement?.closest('tr')?.dataset.id;
    const nextRows = shown.map((tenant) => {
      const key = JSON.stringify(tenant);
      const existing = rows.get(tenant.id);
      if (existing?.key === key) return existing.el;
      const el = row(tenant);
      rows.set(tenant.id, { key, el });
      return el;
    });
    const current = [...tbody.children];
    if (current.length !== nextRows.length || current.some((el, i) => el !== nextRows[i])) {
      tbody.replaceChildren(...nextRows);
      if (focusedId) tbody.querySelector(`tr[data-id="${CSS.escape(focusedId)}"] a`)?.focus();
    }
  }

  async function load() {
    const mine = ++request;
    const params = {
      status: view.status ?? undefined,
      q: view.q,
      sort: view.sort,
      limit: PAGE_SIZE,
      cursor: view.cursors.at(-1) ?? undefined,
    };
    try {
      const [answer, counts] = await Promise.all([api.tenants(params), api.tenantStats()]);
      if (mine !== request) return; // a newer filter, sort or page was asked for meanwhile
      store.setTenants(answer.items);
      page = { ids: answer.items.map((t) => t.id), total: answer.total, nextCursor: answer.nextCursor };
      stats = counts;
      failed = null;
    } catch (error) {
      if (mine !== request || error.status === 401) return;
      if (error.status === 422 && view.cursors.length > 1) {
        restart(); // a cursor of another sort or an old version: start over
        return;
      }
      failed = h(
        'span',
        {},
        `Could not load tenants: ${error.message} `,
        h('button.link', { type: 'button', onclick: load }, 'Try again'),
      );
    }
    render();
  }

  const refreshWhenVisible = () => document.visibilityState === 'visible' && load();
  const unsubscribe = store.subscribe(render);
  const timer = setInterval(refreshWhenVisible, REFRESH_MS);
  document.addEventListener('visibilitychange', refreshWhenVisible);
  streams.watch({ list: true });
  render();
  load();
  return {
    refresh: load,
    cleanup() {
      unsubscribe();
      clearInterval(timer);
      clearTimeout(searchTimer);
      clearTimeout(reloadTimer);
      for (const run of runs) run.stop();
      document.removeEventListener('visibilitychange', refreshWhenVisible);
      streams.watch({});
    },
  };
}

function tabCount(stats, status) {
  if (status) return stats.byStatus[status] ?? 0;
  return stats.total - (stats.byStatus.Deleted ?? 0);
}

function summarise(stats) {
  const total = tabCount(stats, null);
  const parts = [`${total.toLocaleString()} ${total === 1 ? 'tenant' : 'tenants'}`];
  const busy = BUSY.reduce((sum, status) => sum + (stats.byStatus[status] ?? 0), 0);
  const failed = stats.byStatus.Failed ?? 0;
  if (busy) parts.push(`${busy.toLocaleString()} in progress`);
  if (failed) parts.push(`${failed.toLocaleString()} failed`);
  return parts.join(' · ');
}

function row(tenant) {
  const href = `#/tenants/${encodeURIComponent(tenant.id)}`;
  return h(
    'tr',
    {
      'data-id': tenant.id,
      'data-status': tenant.status,
      class: tenant.status === 'Deleted' ? 'row--muted' : null,
      onclick: (event) => {
        if (!event.target.closest('a, button, input') && !getSelection().toString()) {
          location.hash = href;
        }
      },
    },
    h(
      'td.col-check',
      {},
      // The root tenant holds the operators: no bulk action applies to it.
      tenant.id !== ROOT &&
        h('input.check', { type: 'checkbox', 'aria-label': `Select ${tenant.name}` }),
    ),
    h('td', {}, h('a.row-link', { href }, tenant.name), h('div.mono.subtle', {}, tenant.id)),
    h(
      'td.col-status',
      {},
      h(
        'div.status-line',
        {},
        statusBadge(tenant.status),
        deactivatedMarker(tenant),
      ),
      tenant.status === 'Failed' &&
        tenant.provisioningError &&
        h('p.row-error', { title: tenant.provisioningError }, tenant.provisioningError),
    ),
    h(
      'td.col-storage',
      {},
      tenant.hasIsolatedDatabase ? 'Isolated database' : 'Shared schema',
      h('div.mono.subtle', {}, storageText(tenant)),
    ),
    h('td.nowrap.col-attempt', {}, timeText(tenant.lastProvisioningAttempt)),
    h('td.nowrap.col-created', {}, timeText(tenant.createdOn)),
  );
}
