// What can be done to a tenant, in which statuses, and how each outcome is told.

import { api } from '../api.js';

// core.status.ROOT_TENANT_ID: the tenant of the operators, which the API never edits or deletes.
export const ROOT_TENANT_ID = 'root';

export const ACTIONS = [
  { kind: 'edit', label: 'Edit', when: ['Active'] },
  { kind: 'retry', label: 'Retry', when: ['Failed', 'Cancelled'] },
  { kind: 'cancel', label: 'Cancel provisioning', when: ['Pending', 'Provisioning'] },
  { kind: 'delete', label: 'Delete', when: ['Active', 'Failed', 'Cancelled'], tone: 'danger' },
];

export const CALLS = {
  edit: (id, body) => api.updateTenant(id, body),
  retry: (id) => api.retryTenant(id),
  cancel: (id) => api.cancelTenant(id),
  delete: (id) => api.deleteTenant(id),
};

// Asked before the irreversible or disruptive ones.
export const CONFIRMATIONS = {
  cancel: (tenant) => ({
    title: `Cancel provisioning of ${tenant.name}?`,
    body: 'The run stops and removes what it has created so far. You can retry afterwards.',
    confirm: 'Cancel provisioning',
  }),
  delete: (tenant) => ({
    title: `Delete ${tenant.name}?`,
    body: `This drops the tenant’s ${tenant.hasIsolatedDatabase ? 'database' : 'schema'} with all its data and removes its users. It cannot be undone.`,
    confirm: 'Delete tenant',
  }),
};

export const STARTED = {
  edit: 'Saving changes…',
  retry: 'Provisioning again…',
  cancel: 'Cancelling provisioning…',
  delete: 'Deleting the tenant…',
};

const VERB = { edit: 'save the changes', retry: 'retry', cancel: 'cancel', delete: 'delete' };

const RESULTS = {
  edit: { Active: ['success', 'Changes saved.'] },
  retry: { Active: ['success', 'Provisioning finished: the tenant is active.'] },
  cancel: {
    Cancelled: ['success', 'Provisioning cancelled; what it had created was removed.'],
    Active: ['info', 'Provisioning finished before it could be cancelled.'],
  },
  delete: { Deleted: ['success', 'Tenant deleted: its storage and users were removed.'] },
};

export function result(kind, tenant) {
  const known = RESULTS[kind][tenant.status];
  if (known) return known;
  if (tenant.status === 'Failed') {
    // The error callout shows the error: said once, not in a second banner.
    return tenant.provisioningError ? ['danger', ''] : ['danger', 'It failed: see the steps below.'];
  }
  return ['info', `Finished with status ${tenant.status}.`];
}

export function failure(kind, error) {
  const reason = error.status === 405 ? 'this server does not offer it yet.' : error.message;
  return `Could not ${VERB[kind]}: ${reason}`;
}
