// Building blocks shared by the views: status badge, form fields with their errors, dialogs.

import { h, icon, spinner } from '../dom.js';
import { STATUSES, formatDate } from '../format.js';

export function statusBadge(status) {
  const meta = STATUSES[status] ?? { tone: 'neutral', busy: false, hint: '' };
  return h(
    'span.badge',
    { class: `badge--${meta.tone}`, title: meta.hint, 'data-status': status },
    meta.busy ? spinner() : h('span.badge-dot', { 'aria-hidden': 'true' }),
    status,
  );
}

/** Next to the status badge when the tenant is switched off: its users cannot sign in. A plain
 * marker, not a second badge, so "Active" and "off" never look like two contradicting states. */
export function deactivatedMarker(tenant) {
  if (tenant.isActive !== false) return null;
  return h(
    'span.marker',
    { title: 'Deactivated: its users cannot sign in', 'data-marker': 'deactivated' },
    icon('minus'),
    'Deactivated',
  );
}

/** A tenant's page heading: its name over its status and id (the tenant's own page and the
 * operator's detail page alike). */
export function tenantHeading(tenant) {
  return h(
    'div',
    {},
    h('h1', { tabindex: '-1' }, tenant.name),
    h(
      'div.status-line',
      {},
      statusBadge(tenant.status),
      deactivatedMarker(tenant),
      h('span.mono.subtle', {}, tenant.id),
    ),
  );
}

export function timeText(iso) {
  return iso ? h('time', { datetime: iso }, formatDate(iso)) : h('span.subtle', {}, '—');
}

export function field({ name, label, hint, type = 'text', ...attrs }) {
  const id = `field-${name}`;
  const input = h('input.input', {
    id,
    name,
    type,
    'aria-describedby': hint ? `${id}-hint` : null,
    ...attrs,
  });
  return h(
    'div.field',
    { 'data-field': name },
    h('label.label', { for: id }, label),
    input,
    hint && h('p.hint', { id: `${id}-hint` }, hint),
    h('p.field-error', { id: `${id}-error`, hidden: true }),
  );
}

export function checkbox({ name, label, hint, checked = false }) {
  const id = `field-${name}`;
  return h(
    'div.field.field--check',
    { 'data-field': name },
    h('input.checkbox', {
      id,
      name,
      type: 'checkbox',
      checked,
      'aria-describedby': hint ? `${id}-hint` : null,
    }),
    h(
      'div',
      {},
      h('label.label', { for: id }, label),
      hint && h('p.hint', { id: `${id}-hint` }, hint),
    ),
    h('p.field-error', { id: `${id}-error`, hidden: true }),
  );
}

export function formAlert() {
  return h('div.alert.alert--danger', { role: 'alert', hidden: true, tabindex: '-1' });
}

export function showAlert(alert, message) {
  alert.replaceChildren(...(message ? [icon('alert'), h('span', {}, message)] : []));
  alert.hidden = !message;
}

/** Show {field: message} next to each field; returns the first field in error, if any. */
export function setFieldErrors(form, errors) {
  let first = null;
  for (const wrapper of form.querySelectorAll('[data-field]')) {
    const input = wrapper.querySelector('input, select, textarea');
    const error = wrapper.querySelector('.field-error');
    const message = errors[wrapper.dataset.field];
    const described = (input.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((id) => id && id !== error.id);
    if (message) described.push(error.id);
    input.setAttribute('aria-describedby', described.join(' '));
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    error.textContent = message ?? '';
    error.hidden = !message;
    if (message && !first) first = input;
  }
  return first;
}

/** Disable a form's controls and show a spinner on its submit button while `work` runs. */
export async function busy(form, work) {
  const controls = [...form.elements].filter((el) => !el.disabled);
  const submit = form.querySelector('[type="submit"]');
  const mark = spinner();
  controls.forEach((el) => (el.disabled = true));
  form.setAttribute('aria-busy', 'true');
  submit?.prepend(mark);
  try {
    return await work();
  } finally {
    mark.remove();
    form.removeAttribute('aria-busy');
    controls.forEach((el) => (el.disabled = false));
  }
}

/** A modal confirmation; resolves to true when confirmed. Focus starts on the safe choice,
 * stays inside the dialog (Tab wraps around), and goes back to the opener when it closes;
 * Escape closes it (as "no"), and so does leaving the page (closeDialogs). */
export function confirmDialog({ title, body, confirm, tone = 'danger' }) {
  const titleId = `dialog-title-${Date.now()}`;
  const opener = document.activeElement;
  const dialog = h(
    'dialog.dialog',
    { 'aria-labelledby': titleId, onkeydown: trapFocus },
    h(
      'form',
      { method: 'dialog' },
      h('h2.dialog-title', { id: titleId }, title),
      h('p.dialog-body', {}, body),
      h(
        'div.dialog-actions',
        {},
        h('button.button', { value: 'cancel', autofocus: true }, 'Keep it'),
        h('button.button', { value: 'confirm', class: `button--${tone}-solid` }, confirm),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        resolve(dialog.returnValue === 'confirm');
        dialog.remove();
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      },
      { once: true },
    );
  });
}

function trapFocus(event) {
  if (event.key !== 'Tab') return;
  const dialog = event.currentTarget;
  const focusable = [...dialog.querySelectorAll('button, [href], input, select, textarea')].filter(
    (el) => !el.disabled && el.offsetParent !== null,
  );
  if (!focusable.length) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

/** Close every open dialog (as "no"): a question about one page never outlives it. */
export function closeDialogs() {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}
