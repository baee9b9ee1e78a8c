// The HTTP API: one fetch wrapper that adds the token, reports reachability and turns error
// answers into ApiError. A 401 on any signed-in call ends the session (expired or revoked token).

import * as connection from './connection.js';

let token = null;
let unauthorized = () => {};

export function useToken(value) {
  token = value;
}

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(status, detail));
    this.status = status;
    this.detail = detail;
  }

  /** FastAPI's 422 list as {field: message}; errors without a field are under ''. */
  get fieldErrors() {
    const errors = {};
    if (!Array.isArray(this.detail)) return errors;
    for (const error of this.detail) {
      const loc = Array.isArray(error.loc) ? error.loc : [];
      const field = loc[0] === 'body' && loc.length > 1 ? String(loc[1]) : '';
      errors[field] ??= cleanMessage(error.msg);
    }
    return errors;
  }
}

function cleanMessage(message) {
  const text = String(message ?? 'Invalid value').replace(/^Value error, /, '');
  if (text === 'Field required') return 'Required';
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function describe(status, detail) {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) return detail.map((error) => cleanMessage(error.msg)).join('; ');
  if (status === 0) return 'Cannot reach the server. Check the connection and try again.';
  return `The server answered ${status}. Try again in a moment.`;
}

async function request(method, path, { json, form, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = new URLSearchParams(form);
  }
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: 'no-store' });
  } catch {
    connection.requestFailed();
    throw new ApiError(0, null);
  }
  connection.requestSucceeded();
  const isJson = response.headers.get('content-type')?.includes('json');
  const data = isJson ? await response.json().catch(() => null) : null;
  if (response.ok) return data;
  if (response.status === 401 && auth) unauthorized();
  throw new ApiError(response.status, data?.detail);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of [value].flat()) if (item != null && item !== '') search.append(key, item);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const tenantPath = (id) => `/api/tenants/${encodeURIComponent(id)}`;

export const api = {
  signIn: (username, password, tenant) =>
    request('POST', '/api/auth/token', { form: { username, password, tenant }, auth: false }),
  signUp: (body) => request('POST', '/api/signup', { json: body, auth: false }),
  config: () => request('GET', '/api/config', { auth: false }),
  /** One page: `{items, total, nextCursor}`; `status` may be a list (repeated parameter). */
  tenants: (params = {}) => request('GET', `/api/tenants${query(params)}`),
  tenantStats: () => request('GET', '/api/tenants/stats'),
  /** The operations view's figures over the last hour (root). */
  opsSummary: () => request('GET', '/api/ops/summary'),
  /** Fleet rollouts, newest first (404 from an API without them). */
  latestRollouts: () => request('GET', '/api/migrations'),
  /** `{action, tenantIds}` or `{action, filter: {status, q}}` → `{id, workflowId, total}`. */
  startBulk: (body) => request('POST', '/api/tenants/bulk', { json: body }),
  bulk: (id) => request('GET', `/api/tenants/bulk/${encodeURIComponent(id)}`),
  tenant: (id) => request('GET', tenantPath(id)),
  tenantRuns: (id) => request('GET', `${tenantPath(id)}/runs`),
  /** `[{email, roles, createdOn}]`: root, or an admin of that tenant. */
  tenantUsers: (id) => request('GET', `${tenantPath(id)}/users`),
  tenantRun: (id, runId) =>
    request('GET', `${tenantPath(id)}/runs/${encodeURIComponent(runId)}`),
  createTenant: (body) => request('POST', '/api/tenants', { json: body }),
  updateTenant: (id, body) => request('PUT', tenantPath(id), { json: body }),
  retryTenant: (id) => request('POST', `${tenantPath(id)}/retry`),
  cancelTenant: (id) => request('POST', `${tenantPath(id)}/cancel`),
  deleteTenant: (id) => request('DELETE', tenantPath(id)),
  /** The signed-in user's `{notifyByEmail}`. */
  preferences: () => request('GET', '/api/me/preferences'),
  setPreferences: (body) => request('PUT', '/api/me/preferences', { json: body }),
  /** `{head, revisions: [{id, description}], counts, migrating}`: the fleet's schema. */
  schema: () => request('GET', '/api/schema'),
  migrations: () => request('GET', '/api/migrations'),
  migration: (id) => request('GET', `/api/migrations/${encodeURIComponent(id)}`),
  /** `{targetRevision, concurrency, canary, maxFailures}` → `{id, workflowId, total}`. */
  startMigration: (body) => request('POST', '/api/migrations', { json: body }),
  /** `pause`, `resume`, `cancel` or `retry` → the rollout's state. */
  migrationAction: (id, verb) =>
    request('POST', `/api/migrations/${encodeURIComponent(id)}/${verb}`),
  /** Resolves once the API answers at all (any status): it is reachable again. */
  reachable: () =>
    request('GET', '/health', { auth: false }).catch((error) => {
      if (error.status === 0) throw error;
    }),
};

/** An SSE URL: EventSource cannot send headers, so the token travels as a query parameter. */
export function streamUrl(path) {
  return `${path}?access_token=${encodeURIComponent(token ?? '')}`;
}
