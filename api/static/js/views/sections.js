// The parts of a tenant's page that show state: the stored error, the run's progress with its
// link to the Temporal Web UI, and the row's details.

import { h, icon, spinner } from '../dom.js';
import { formatDate } from '../format.js';
import { timeText } from './components.js';
import { stepList, technicalDetails } from './steps.js';

export function errorCallout(tenant) {
  if (tenant.status !== 'Failed' || !tenant.provisioningError) return h('div');
  return h(
    'div.alert.alert--danger.error-callout',
    {},
    icon('alert'),
    h(
      'div',
      {},
      h('p.alert-title', {}, 'The last run failed'),
      h('p.error-sentence', {}, tenant.provisioningError),
      technicalDetails(tenant.provisioningErrorDetail),
    ),
  );
}

function temporalLink(tenant, config) {
  if (!tenant.workflowId || !config.temporalUiUrl) return null;
  const base = config.temporalUiUrl.replace(/\/+$/, '');
  const href = `${base}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(tenant.workflowId)}`;
  return h(
    'a.external',
    { href, target: '_blank', rel: 'noopener noreferrer' },
    'Open in Temporal Web UI',
    icon('external'),
    h('span.visually-hidden', {}, ' (opens in a new tab)'),
  );
}

export function progressCard(tenant, snapshot, config) {
  let body;
  if (!tenant.workflowId) {
    body = h('p.placeholder', {}, 'This tenant was created by setup; it has no provisioning run.');
  } else if (!snapshot) {
    body = h('p.placeholder', {}, spinner(), ' Loading the steps…');
  } else if (!snapshot.steps.length) {
    body = h('p.placeholder', {}, 'No step details are available for this run.');
  } else {
    body = stepList(snapshot.steps);
  }
  const run = snapshot?.workflowType
    ? `${snapshot.workflowType}${snapshot.runStartedAt ? ` · started ${formatDate(snapshot.runStartedAt)}` : ''}`
    : (tenant.workflowId ?? '');
  return h(
    'section.card.progress-card',
    { 'aria-labelledby': 'progress-title' },
    h(
      'div.card-head',
      {},
      h(
        'div',
        {},
        h('h2.card-title', { id: 'progress-title' }, 'Progress'),
        h('p.subtle', {}, run),
      ),
      temporalLink(tenant, config),
    ),
    body,
  );
}

export function facts(tenant) {
  const rows = [
    ['Tenant ID', h('span.mono', {}, tenant.id)],
    ['Admin e-mail', tenant.adminEmail ?? '—'],
    ['Storage', tenant.hasIsolatedDatabase ? 'Isolated database' : 'Shared schema'],
    ['Database', h('span.mono', {}, tenant.database ?? '—')],
    ['Schema', h('span.mono', {}, tenant.schema ?? '—')],
    ['Schema revision', h('span.mono', {}, tenant.schemaRevision ?? '—')],
    tenant.migrationError && ['Last migration', tenant.migrationError],
    // Whether its users may sign in: a setting of a working tenant, meaningless while it is
    // being created, has failed or is gone (the status says all there is then).
    ['Active', 'Updating', 'Migrating'].includes(tenant.status) && [
      'Sign-in',
      tenant.isActive ? 'Enabled' : 'Disabled (deactivated)',
    ],
    ['Created', timeText(tenant.createdOn)],
    ['Last attempt', timeText(tenant.lastProvisioningAttempt)],
    ['Workflow', h('span.mono.break', {}, tenant.workflowId ?? '—')],
  ];
  return h(
    'section.card',
    { 'aria-labelledby': 'facts-title' },
    h('h2.card-title', { id: 'facts-title' }, 'Details'),
    h(
      'dl.facts',
      {},
      rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
  );
}
