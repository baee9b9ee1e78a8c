// What this tab knows: tenant rows (REST) and their latest progress snapshots (SSE).
// Listeners are called once per burst of changes (a microtask later).

import { api } from './api.js';
import { isTerminal } from './format.js';

const tenants = new Map();
const progress = new Map();
const listeners = new Set();
let pending = false;

function changed() {
  if (pending) return;
  pending = true;
  queueMicrotask(() => {
    pending = false;
    for (const listener of [...listeners]) listener();
  });
}

export const store = {
  tenants: () => [...tenants.values()],
  tenant: (id) => tenants.get(id),
  progress: (id) => progress.get(id),

  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },

  setTenants(rows) {
    tenants.clear();
    for (const row of rows) tenants.set(row.id, row);
    changed();
  },

  upsert(row) {
    tenants.set(row.id, { ...tenants.get(row.id), ...row });
    changed();
  },

  remove(id) {
    tenants.delete(id);
    progress.delete(id);
    changed();
  },

  /** A snapshot from a progress stream. A live status shows at once; a final one waits for
   * the row (refetched by the stream's owner), which also carries the stored error. */
  setProgress(id, snapshot) {
    progress.set(id, snapshot);
    const row = tenants.get(id);
    if (row && !isTerminal(snapshot.status) && row.status !== snapshot.status) {
      tenants.set(id, { ...row, status: snapshot.status });
    }
    changed();
  },

  clear() {
    tenants.clear();
    progress.clear();
    changed();
  },
};

/** Refetch one row; a 404 removes it. Resolves to the row, or null when it is gone. */
export async function refreshTenant(id) {
  try {
    const row = await api.tenant(id);
    store.upsert(row);
    return row;
  } catch (error) {
    if (error.status !== 404) throw error;
    store.remove(id);
    return null;
  }
}
