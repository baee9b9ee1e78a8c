// Tenantflow's browser app: routing, the signed-in session and its live connections.

import { api, onUnauthorized, useToken } from './js/api.js';
import * as connection from './js/connection.js';
import { fill, h } from './js/dom.js';
import { sentence } from './js/format.js';
import { openNotifications } from './js/notifications.js';
import { clearSession, isExpired, readSession, saveSession } from './js/session.js';
import { refreshTenant, store } from './js/store.js';
import * as streams from './js/streams.js';
import { mountBanner } from './js/views/banner.js';
import { accountMenu } from './js/views/account-menu.js';
import { brand } from './js/views/brand.js';
import { closeDialogs } from './js/views/components.js';
import { mountCreate } from './js/views/create.js';
import { mountDetail } from './js/views/detail.js';
import { mountHome } from './js/views/home.js';
import { mountList } from './js/views/list.js';
import { mountSchema } from './js/views/schema.js';
import { mountOps } from './js/views/ops.js';
import { mountSignIn } from './js/views/signin.js';
import { mountSignup } from './js/views/signup.js';
import { clearToasts, showToast } from './js/views/toasts.js';

// Used when the API has no /api/config (older servers) or cannot be reached at start.
const DEFAULT_CONFIG = {
  temporalUiUrl: 'http://127.0.0.1:8233',
  temporalNamespace: 'default',
  signupEnabled: true,
};
const EXPIRED = 'Your session has expired. Sign in again to continue.';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');

let session = null;
let notifications = null;
let expiryTimer = null;
let config = DEFAULT_CONFIG;
let view = {};
let notice = null;

function route() {
  const path = location.hash.replace(/^#/, '') || '/';
  const detail = path.match(/^\/tenants\/([^/]+)$/);
  if (detail) return { name: 'detail', id: decodeURIComponent(detail[1]) };
  const names = {
    '/': 'list',
    '/new': 'create',
    '/signup': 'signup',
    '/ops': 'ops',
    '/schema': 'schema',
  };
  return { name: names[path] ?? 'missing' };
}

function render() {
  closeDialogs();
  view.cleanup?.();
  const current = route();
  const context = { navigate, signIn, config: () => config };
  if (!session) {
    topbar.hidden = true;
    document.title = 'Sign in · Tenantflow';
    view =
      current.name === 'signup'
        ? mountSignup(main, context)
        : mountSignIn(main, { ...context, notice });
    return;
  }
  renderTopbar(current.name);
  if (!session.isRoot) {
    view = session.isAdmin
      ? mountHome(main, { ...context, tenantId: session.tenant })
      : mountNoAccess();
  } else if (current.name === 'list' || current.name === 'signup') {
    view = mountList(main, context);
  } else if (current.name === 'schema') {
    view = mountSchema(main, context);
  } else if (current.name === 'ops') {
    view = mountOps(main, context);
  } else if (current.name === 'create') {
    view = mountCreate(main, context);
  } else if (current.name === 'detail') {
    view = mountDetail(main, { ...context, id: current.id });
  } else {
    view = mountMissing();
  }
  const titles = { list: 'Tenants', create: 'New tenant' };
  if (titles[current.name]) document.title = `${titles[current.name]} · Tenantflow`;
  // Move focus to the new page's heading (screen readers announce it), unless a view chose.
  if (!main.contains(document.activeElement))
    main.querySelector('h1')?.focus({ preventScroll: true });
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderTopbar(name) {
  const link = (href, text, active) =>
    h('a.nav-link', { href, 'aria-current': active ? 'page' : null }, text);
  topbar.hidden = false;
  // `fill` drops false and null: `session.isRoot && …` must not become the text "false".
  fill(
    topbar,
    brand('#/'),
    session.isRoot &&
      h(
        'nav.nav',
        { 'aria-label': 'Main' },
        link('#/', 'Tenants', name === 'list' || name === 'detail'),
        link('#/new', 'New tenant', name === 'create'),
        link('#/schema', 'Schema', name === 'schema'),
        link('#/ops', 'Operations', name === 'ops'),
      ),
    h(
      'div.user',
      {},
      h(
        'span.user-who',
        {},
        h('span.user-email', {}, session.email),
        h('span.user-tenant', {}, session.tenant),
      ),
      accountMenu(),
      h('button.button.button--ghost', { type: 'button', onclick: () => signOut() }, 'Sign out'),
    ),
  );
}

function mountNoAccess() {
  document.title = 'Tenantflow';
  main.replaceChildren(
    h(
      'div.empty',
      {},
      h('h1', { tabindex: '-1' }, `Signed in to ${session.tenant}`),
      h(
        'p',
        {},
        'Managing tenants needs an operator account of the root tenant. Notifications about operations you start appear here as they happen.',
      ),
    ),
  );
  return {};
}

function mountMissing() {
  document.title = 'Not found · Tenantflow';
  main.replaceChildren(
    h(
      'div.empty',
      {},
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, h('a', { href: '#/' }, 'Go to the tenant list')),
    ),
  );
  return {};
}

function signIn(token) {
  session = saveSession(token);
  notice = null;
  startSession();
  if (route().name === 'signup') location.hash = '#/';
  render();
}

function signOut(message = null) {
  notifications?.stop();
  notifications = null;
  clearTimeout(expiryTimer);
  streams.stopAll();
  store.clear();
  clearSession();
  clearToasts();
  connection.reset();
  document.getElementById('banner').hidden = true;
  useToken(null);
  session = null;
  notice = message;
  render();
}

function startSession() {
  useToken(session.token);
  const left = session.expiresAt - Date.now();
  if (Number.isFinite(left))
    expiryTimer = setTimeout(() => signOut(EXPIRED), Math.min(left, 2 ** 31 - 1));
  notifications = openNotifications(onNotification);
}

function onNotification(note) {
  const failed = note.type.endsWith('Failed');
  showToast({
    tone: failed ? 'danger' : 'success',
    title: sentence(note.type),
    message: note.message,
    link: session?.isRoot
      ? { href: `#/tenants/${encodeURIComponent(note.tenantId)}`, text: `View ${note.tenantName}` }
      : null,
    dataset: { 'tenant-id': note.tenantId, type: note.type },
  });
  if (session?.isRoot || note.tenantId === session?.tenant)
    refreshTenant(note.tenantId).catch(() => {});
}

function retryNow() {
  notifications?.retryNow();
  streams.retryAll();
}

async function boot() {
  config = await api.config().then(
    (answer) => ({ ...DEFAULT_CONFIG, ...answer }),
    () => DEFAULT_CONFIG,
  );
  onUnauthorized(() => session && signOut(EXPIRED));
  mountBanner(document.getElementById('banner'), { retryNow });
  connection.onChange(({ recovered }) => {
    if (!recovered || !session) return;
    // Back online: read the current state, then let every stream pick up from there.
    view.refresh?.();
    streams.retryAll();
  });
  window.addEventListener('hashchange', render);
  session = readSession();
  if (session && isExpired(session)) {
    clearSession();
    session = null;
    notice = EXPIRED;
  }
  if (session) startSession();
  render();
}

boot();
