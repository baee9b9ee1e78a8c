// Status vocabulary and how values are shown. Shared by every view.

export const STATUSES = {
  Pending: { tone: 'neutral', busy: true, hint: 'Waiting for a worker to start' },
  Provisioning: { tone: 'info', busy: true, hint: 'Creating storage and running migrations' },
  Active: { tone: 'success', busy: false, hint: 'Ready for use' },
  Failed: { tone: 'danger', busy: false, hint: 'Stopped with an error' },
  Updating: { tone: 'info', busy: true, hint: 'Applying changes' },
  Cancelled: { tone: 'warning', busy: false, hint: 'Cancelled; what it created was removed' },
  Deleting: { tone: 'warning', busy: true, hint: 'Removing storage and users' },
  Deleted: { tone: 'muted', busy: false, hint: 'Storage and users removed' },
  Migrating: { tone: 'info', busy: true, hint: 'Moving its schema to another revision' },
};

const TERMINAL = new Set(['Active', 'Failed', 'Cancelled', 'Deleted']);

export const isBusy = (status) => STATUSES[status]?.busy ?? false;
export const isTerminal = (status) => TERMINAL.has(status);

const STEP_LABELS = {
  create_admin_user: 'Create admin user',
  create_tenant_database: 'Create database',
  migrate_tenant_database: 'Run migrations',
  activate_tenant: 'Activate tenant',
  migrate_tenant_schema: 'Migrate schema',
};

export function stepLabel(name) {
  return STEP_LABELS[name] ?? capitalise(name.replaceAll('_', ' '));
}

/** 'TenantCreationFailed' → 'Tenant creation failed'. */
export function sentence(type) {
  return capitalise(type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase());
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function formatDate(iso) {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

export function formatClock(iso) {
  return iso ? clock.format(new Date(iso)) : '';
}

export function formatDuration(fromIso, toIso) {
  const ms = new Date(toIso) - new Date(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Where a tenant's data lives, e.g. "tenant_acme in tenantflow_tenants". */
export function storageText(tenant) {
  if (tenant.hasIsolatedDatabase) return tenant.database ?? '';
  return tenant.schema && tenant.database ? `${tenant.schema} in ${tenant.database}` : '';
}

export function slugify(text) {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}
