// All tenants, newest first, updated live: progress streams for work in flight, notifications
// for outcomes, and a slow refresh (and one on returning to the tab) for changes made elsewhere.

import { h, icon } from '../dom.js';
import { isBusy, storageText } from '../format.js';
import * as streams from '../streams.js';
import { loadTenants, store } from '../store.js';
import { statusBadge, timeText } from './components.js';

const REFRESH_MS = 30_000;

export function mountList(main) {
  const search = h('input.input.search-input', {
    type: 'search',
    placeholder: 'Search by name or ID',
    'aria-label': 'Search tenants',
    oninput: () => render(),
  });
  const summary = h('p.lead', { 'aria-live': 'polite' });
  const tbody = h('tbody');
  const placeholder = h('div.table-state', {}, 'Loading tenants…');
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
        h('th', { scope: 'col' }, 'Tenant'),
        h('th', { scope: 'col' }, 'Status'),
        h('th.col-storage', { scope: 'col' }, 'Storage'),
        h('th', { scope: 'col' }, 'Last attempt'),
        h('th.col-created', { scope: 'col' }, 'Created'),
      ),
    ),
    tbody,
  );
  let loaded = false;
  let failed = null;
  const rows = new Map();

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
    h('div.card.card--flush', {}, table, placeholder),
  );

  function render() {
    const all = store.tenants();
    const query = search.value.trim().toLowerCase();
    const shown = all
      .filter((t) => !query || t.id.includes(query) || t.name.toLowerCase().includes(query))
      .sort(
        (a, b) => (b.createdOn ?? '').localeCompare(a.createdOn ?? '') || a.id.localeCompare(b.id),
      );
    summary.textContent = loaded ? summarise(all) : '';
    placeholder.hidden = loaded && !failed && shown.length > 0;
    if (failed) placeholder.replaceChildren(failed);
    else if (!loaded) placeholder.textContent = 'Loading tenants…';
    else if (!all.length) placeholder.textContent = 'No tenants yet. Create the first one.';
    else placeholder.textContent = `No tenant matches “${search.value}”.`;
    updateRows(shown);
  }

  function updateRows(shown) {
    const focusedId = document.activeElement?.closest('tr')?.dataset.id;
    const next = shown.map((tenant) => {
      const key = JSON.stringify(tenant);
      const existing = rows.get(tenant.id);
      if (existing?.key === key) return existing.el;
      const el = row(tenant);
      rows.set(tenant.id, { key, el });
      return el;
    });
    const current = [...tbody.children];
    if (current.length !== next.length || current.some((el, i) => el !== next[i])) {
      tbody.replaceChildren(...next);
      if (focusedId) tbody.querySelector(`tr[data-id="${CSS.escape(focusedId)}"] a`)?.focus();
    }
  }

  async function load() {
    try {
      await loadTenants();
      loaded = true;
      failed = null;
    } catch (error) {
      if (error.status === 401) return;
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
      document.removeEventListener('visibilitychange', refreshWhenVisible);
      streams.watch({});
    },
  };
}

function summarise(tenants) {
  const count = (test) => tenants.filter(test).length;
  const parts = [`${tenants.length} ${tenants.length === 1 ? 'tenant' : 'tenants'}`];
  const busy = count((t) => isBusy(t.status));
  const failed = count((t) => t.status === 'Failed');
  if (busy) parts.push(`${busy} in progress`);
  if (failed) parts.push(`${failed} failed`);
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
        if (!event.target.closest('a, button') && !getSelection().toString()) location.hash = href;
      },
    },
    h('td', {}, h('a.row-link', { href }, tenant.name), h('div.mono.subtle', {}, tenant.id)),
    h(
      'td.col-status',
      {},
      h(
        'div.status-line',
        {},
        statusBadge(tenant.status),
        tenant.isActive === false && h('span.tag', {}, 'Inactive'),
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
    h('td.nowrap', {}, timeText(tenant.lastProvisioningAttempt)),
    h('td.nowrap.col-created', {}, timeText(tenant.createdOn)),
  );
}
