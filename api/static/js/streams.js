// Per-tenant progress streams (`/api/tenants/{id}/events`), opened for what is on screen.
//
// Browsers allow ~6 HTTP/1.1 connections per host and an open EventSource holds one, shared by
// all tabs: so a tab keeps at most MAX_STREAMS progress streams (plus its notification stream).
// The detail view streams its tenant; the list streams the newest tenants with work in flight,
// the rest queue for a free slot (a stream ends when its run reaches a final status).

import { streamUrl } from './api.js';
import { isBusy, isTerminal } from './format.js';
import { LiveStream } from './sse.js';
import { refreshTenant, store } from './store.js';

const MAX_STREAMS = 2;
const live = new Map();
// Status a focused tenant had when its stream last ended: no need to read the same end twice.
const settled = new Map();
let mode = { list: false, focus: null };

/** What the screen shows: the list, or one tenant (`focus`), or neither. */
export function watch(next) {
  mode = { list: false, focus: null, ...next };
  reconcile();
}

export function stopAll() {
  mode = { list: false, focus: null };
  for (const stream of live.values()) stream.stop();
  live.clear();
  settled.clear();
}

/** After the connection came back: reconnect every stream now rather than at its next try. */
export function retryAll() {
  for (const stream of live.values()) stream.retryNow();
  reconcile();
}

function hasFinalProgress(tenant) {
  const snapshot = store.progress(tenant.id);
  return snapshot && isTerminal(snapshot.status) && snapshot.status === tenant.status;
}

function needsStream(tenant, focused) {
  if (!tenant?.workflowId) return false;
  if (isBusy(tenant.status)) return true;
  return focused && !hasFinalProgress(tenant) && settled.get(tenant.id) !== tenant.status;
}

function wanted() {
  if (mode.focus) {
    return needsStream(store.tenant(mode.focus), true) ? [mode.focus] : [];
  }
  if (!mode.list) return [];
  return store
    .tenants()
    .filter((tenant) => needsStream(tenant, false))
    .sort((a, b) => (b.updatedOn ?? '').localeCompare(a.updatedOn ?? ''))
    .map((tenant) => tenant.id);
}

function reconcile() {
  const ids = wanted();
  for (const [id, stream] of live) {
    if (!ids.includes(id)) {
      stream.stop();
      live.delete(id);
    }
  }
  for (const id of ids) {
    if (live.size >= MAX_STREAMS) break;
    if (!live.has(id)) open(id);
  }
}

function open(id) {
  const stream = new LiveStream(() => streamUrl(`/api/tenants/${encodeURIComponent(id)}/events`), {
    events: { progress: (snapshot) => onSnapshot(id, stream, snapshot) },
    beforeReconnect: async () => {
      const keep = needsStream(await refreshTenant(id), mode.focus === id);
      if (!keep) forget(id, stream);
      return keep;
    },
  });
  live.set(id, stream);
  stream.start();
}

function onSnapshot(id, stream, snapshot) {
  store.setProgress(id, snapshot);
  if (!isTerminal(snapshot.status)) return;
  // The run is over and the server ends the stream. Read the row for the stored error and
  // attempt time; if it has moved on (an action started a new run), follow it after a pause.
  stream.pause();
  refreshTenant(id).then(
    (row) => {
      if (live.get(id) !== stream) return;
      if (row && isBusy(row.status)) {
        stream.retryLater();
      } else {
        if (row) settled.set(id, row.status);
        stream.stop();
        forget(id, stream);
      }
    },
    () => stream.retryLater(),
  );
}

function forget(id, stream) {
  if (live.get(id) !== stream) return;
  live.delete(id);
  queueMicrotask(reconcile);
}

store.subscribe(reconcile);
