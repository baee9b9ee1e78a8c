// A tenant admin's page: their own tenant (status, storage, schema revision), its users, and the
// operation running on it, live. Read-only: operations are started by operators.

import { api } from '../api.js';
import { h } from '../dom.js';
import { isBusy, storageText } from '../format.js';
import * as streams from '../streams.js';
import { refreshTenant, store } from '../store.js';
import { tenantHeading, timeText } from './components.js';
import { errorCallout, progressCard } from './sections.js';

// An operator may start an operation on this tenant at any time: look at the row now and then
// (only while the tab is shown and nothing is streaming) so its progress appears on its own.
const RECHECK_MS = 10_000;

export function mountHome(main, { tenantId, config }) {
  const head = h('div');
  const announcer = h('p.visually-hidden', { 'aria-live': 'polite' });
  const error = h('div');
  const progress = h('div');
  const about = h('div');
  const people = h('section.card.users-card', { 'aria-labelledby': 'users-title' });
  const alert = h('div.alert.alert--danger', { role: 'alert', hidden: true });
  main.replaceChildren(
    head,
    announcer,
    alert,
    error,
    h('div.detail-grid', {}, progress, about),
    people,
  );
  let shown = null; // what the page was last drawn from
  let usersFor = null; // the status the users were last read at

  function render() {
    const tenant = store.tenant(tenantId);
    if (!tenant) return;
    const snapshot = store.progress(tenantId);
    const key = JSON.stringify([tenant, snapshot]);
    if (key === shown) return;
    shown = key;
    document.title = `${tenant.name} · Tenantflow`;
    const focused = head.contains(document.activeElement);
    head.replaceChildren(h('div.page-head.detail-head', {}, tenantHeading(tenant)));
    if (focused) head.querySelector('h1').focus({ preventScroll: true });
    const announcement = `Status: ${tenant.status}`;
    if (announcer.textContent !== announcement) announcer.textContent = announcement;
    error.replaceChildren(errorCallout(tenant));
    // Operators' tools (the Temporal Web UI) are not linked from here.
    progress.replaceChildren(progressCard(tenant, snapshot, { ...config(), temporalUiUrl: null }));
    about.replaceChildren(facts(tenant));
    if (usersFor !== tenant.status) {
      usersFor = tenant.status;
      loadUsers();
    }
  }

  async function loadUsers() {
    try {
      people.replaceChildren(...usersCard(await api.tenantUsers(tenantId)));
    } catch (error) {
      if (error.status !== 401)
        people.replaceChildren(...usersCard(null, `Could not load the users: ${error.message}`));
    }
  }

  async function refresh() {
    try {
      await refreshTenant(tenantId);
      alert.hidden = true;
    } catch (error) {
      if (error.status === 401) return;
      alert.textContent = `Could not load your tenant: ${error.message}`;
      alert.hidden = false;
    }
  }

  const timer = setInterval(() => {
    const tenant = store.tenant(tenantId);
    if (document.visibilityState === 'visible' && !isBusy(tenant?.status)) refresh();
  }, RECHECK_MS);
  const unsubscribe = store.subscribe(render);
  streams.watch({ focus: tenantId });
  refresh().then(() => main.querySelector('h1')?.focus({ preventScroll: true }));
  return {
    refresh,
    cleanup() {
      clearInterval(timer);
      unsubscribe();
      streams.watch({});
    },
  };
}

function facts(tenant) {
  const rows = [
    ['Tenant ID', h('span.mono', {}, tenant.id)],
    ['Storage', tenant.hasIsolatedDatabase ? 'Isolated database' : 'Shared schema'],
    ['Location', h('span.mono', {}, storageText(tenant) || '—')],
    // Present once the API reports schema revisions.
    'schemaRevision' in tenant && [
      'Schema revision',
      h('span.mono', {}, tenant.schemaRevision ?? 'not migrated yet'),
    ],
    ['Admin e-mail', tenant.adminEmail ?? '—'],
    ['Created', timeText(tenant.createdOn)],
  ];
  return h(
    'section.card',
    { 'aria-labelledby': 'facts-title' },
    h('h2.card-title', { id: 'facts-title' }, 'Your tenant'),
    h(
      'dl.facts',
      {},
      rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
  );
}

function usersCard(users, problem = null) {
  const title = h('h2.card-title', { id: 'users-title' }, 'Users');
  if (problem) return [title, h('p.placeholder', {}, problem)];
  if (!users.length) return [title, h('p.placeholder', {}, 'No users yet.')];
  return [
    h(
      'div.card-head',
      {},
      title,
      h('span.subtle', {}, users.length === 1 ? '1 user' : `${users.length} users`),
    ),
    h(
      'div.table-wrap',
      {},
      h(
        'table.table.users',
        {},
        h('thead', {}, h('tr', {}, h('th', {}, 'E-mail'), h('th', {}, 'Roles'), h('th', {}, 'Added'))),
        h(
          'tbody',
          {},
          users.map((user) =>
            h(
              'tr',
              { 'data-email': user.email },
              h('td', {}, user.email),
              h('td', {}, user.roles.join(', ')),
              h('td', {}, timeText(user.createdOn)),
            ),
          ),
        ),
      ),
    ),
  ];
}
