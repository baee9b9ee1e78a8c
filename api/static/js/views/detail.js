// One tenant: its row, the steps of its current run (live), a link to the run in the Temporal
// Web UI, the actions (edit, retry, cancel, delete), each followed until its result, and the
// history of every run.

import { h, icon, spinner, swap } from '../dom.js';
import { isTerminal } from '../format.js';
import * as streams from '../streams.js';
import { refreshTenant, store } from '../store.js';
import {
  ACTIONS,
  CALLS,
  CONFIRMATIONS,
  ROOT_TENANT_ID,
  STARTED,
  failure,
  result,
} from './actions.js';
import { closeDialogs, confirmDialog, tenantHeading } from './components.js';
import { editForm } from './edit.js';
import { historyCard } from './history.js';
import { errorCallout, facts, progressCard } from './sections.js';

export function mountDetail(main, { id, config }) {
  const back = h('a.back', { href: '#/' }, icon('back'), 'Tenants');
  const outcome = h('div.outcome', { role: 'status', 'aria-live': 'polite', hidden: true });
  // Status changes are announced from here: the header itself is rebuilt on each change.
  const announcer = h('p.visually-hidden', { 'aria-live': 'polite' });
  const slots = {};
  const slot = (name) => (slots[name] = { el: h('div'), key: undefined });
  const update = (name, key, build) => {
    const current = slots[name];
    if (current.key === key) return;
    current.key = key;
    current.el = swap(current.el, build());
  };
  ['head', 'edit', 'error', 'progress', 'facts'].forEach(slot);
  let pending = null; // the action whose result we are waiting for
  let requesting = null; // the action whose request is in flight
  let asking = null; // the action whose confirmation is open
  let editing = false;
  let missing = false;
  const history = historyCard(id);
  let historyKey = null; // status and run the history was last read for

  main.replaceChildren(
    back,
    announcer,
    slots.head.el,
    outcome,
    slots.edit.el,
    slots.error.el,
    h('div.detail-grid', {}, slots.progress.el, slots.facts.el),
    history.el,
  );

  function setOutcome(tone, text, { working = false } = {}) {
    outcome.hidden = !text;
    outcome.className = `outcome outcome--${tone}`;
    const mark = working
      ? spinner()
      : icon(tone === 'danger' ? 'alert' : tone === 'success' ? 'check' : 'info');
    outcome.replaceChildren(...(text ? [mark, h('span', {}, text)] : []));
  }

  function render() {
    const tenant = store.tenant(id);
    if (!tenant) {
      if (missing) {
        main.replaceChildren(
          back,
          h(
            'div.empty',
            {},
            h('h1', { tabindex: '-1' }, 'Tenant not found'),
            h('p', {}, `There is no tenant “${id}”.`),
          ),
        );
      }
      return;
    }
    document.title = `${tenant.name} · Tenantflow`;
    const announcement = `Status: ${tenant.status}`;
    if (announcer.textContent !== announcement) announcer.textContent = announcement;
    if (pending?.armed && isTerminal(tenant.status)) {
      const [tone, text] = result(pending.kind, tenant);
      setOutcome(tone, text);
      pending = null;
    }
    const question = ACTIONS.find((action) => action.kind === asking);
    if (question && !question.when.includes(tenant.status)) {
      // The tenant moved on behind the dialog (a provisioning finished while "cancel?" was
      // open): confirming would only meet a 409, so the question goes and the page says why.
      asking = null;
      closeDialogs();
      const [tone, text] =
        question.kind === 'cancel' && tenant.status === 'Active'
          ? result('cancel', tenant)
          : ['info', `${question.label} no longer applies: the tenant is ${tenant.status}.`];
      setOutcome(tone, text);
    }
    const snapshot = store.progress(id);
    update(
      'head',
      JSON.stringify([tenant.name, tenant.status, tenant.isActive, requesting, editing]),
      () => head(tenant),
    );
    update('edit', JSON.stringify([editing]), () =>
      editing ? editForm(tenant, { save, close: closeEdit }) : h('div'),
    );
    const failure = [tenant.status, tenant.provisioningError, tenant.provisioningErrorDetail];
    update('error', JSON.stringify(failure), () =>
      errorCallout(tenant),
    );
    update('progress', JSON.stringify([tenant.workflowId, tenant.status, snapshot]), () =>
      progressCard(tenant, snapshot, config()),
    );
    update('facts', JSON.stringify(tenant), () => facts(tenant));
    const key = JSON.stringify([tenant.status, tenant.workflowId]);
    if (historyKey !== null && historyKey !== key) history.refresh();
    historyKey = key;
  }

  function head(tenant) {
    const root = tenant.id === ROOT_TENANT_ID; // the API refuses to edit or delete it
    const available = root
      ? []
      : ACTIONS.filter((action) => action.when.includes(tenant.status));
    return h(
      'div.page-head.detail-head',
      {},
      tenantHeading(tenant),
      root &&
        h(
          'p.subtle.root-note',
          {},
          'The root tenant holds the operators; it cannot be edited or deleted.',
        ),
      available.length > 0 &&
        h(
          'div.page-actions',
          { role: 'group', 'aria-label': 'Actions' },
          available.map((action) =>
            h(
              'button.button',
              {
                type: 'button',
                class: action.tone === 'danger' ? 'button--danger' : null,
                'data-focus': action.kind,
                'data-action': action.kind,
                disabled: Boolean(requesting) || (action.kind === 'edit' && editing),
                onclick: () => run(action.kind, tenant),
              },
              requesting === action.kind && spinner(),
              action.label,
            ),
          ),
        ),
    );
  }

  async function run(kind, tenant) {
    if (kind === 'edit') {
      editing = true;
      render();
      slots.edit.el.querySelector('input')?.focus();
      return;
    }
    const question = CONFIRMATIONS[kind]?.(tenant);
    if (question) {
      asking = kind;
      const confirmed = await confirmDialog(question);
      const current = asking;
      asking = null;
      if (!confirmed || current !== kind) return;
    }
    await perform(kind);
  }

  async function perform(kind, body) {
    requesting = kind;
    setOutcome('info', STARTED[kind], { working: true });
    render();
    try {
      await CALLS[kind](id, body);
      pending = { kind, armed: false };
      await refreshTenant(id).catch(() => null);
      pending.armed = true;
    } catch (error) {
      pending = null;
      if (kind === 'edit') {
        setOutcome('info', '');
        throw error; // shown in the edit form, next to its fields
      }
      setOutcome('danger', failure(kind, error));
    } finally {
      requesting = null;
      render();
    }
  }

  async function save(body) {
    await perform('edit', body);
    closeEdit();
  }

  function closeEdit() {
    editing = false;
    render();
    slots.head.el.querySelector('[data-action="edit"]')?.focus();
  }

  const unsubscribe = store.subscribe(render);
  streams.watch({ focus: id });
  render();
  const refresh = () =>
    refreshTenant(id).then(
      (row) => {
        missing = row === null;
        render();
      },
      (error) =>
        error.status !== 401 && setOutcome('danger', `Could not load the tenant: ${error.message}`),
    );
  refresh();
  return {
    refresh: () => {
      history.refresh();
      return refresh();
    },
    cleanup() {
      unsubscribe();
      history.cleanup();
      streams.watch({});
    },
  };
}
