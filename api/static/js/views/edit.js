// Edit a tenant's name and whether it is active (PUT /api/tenants/{id}).

import { h } from '../dom.js';
import { busy, checkbox, field, formAlert, setFieldErrors, showAlert } from './components.js';

export function editForm(tenant, { save, close }) {
  const alert = formAlert();
  const form = h(
    'form.card.edit-card',
    {
      novalidate: true,
      'aria-labelledby': 'edit-title',
      onkeydown: (event) => event.key === 'Escape' && close(),
    },
    h('h2.card-title', { id: 'edit-title' }, 'Edit tenant'),
    alert,
    field({ name: 'name', label: 'Name', value: tenant.name, required: true, autocomplete: 'off' }),
    checkbox({
      name: 'isActive',
      label: 'Sign-in enabled',
      hint: 'Turn off to deactivate the tenant: its users cannot sign in until it is enabled again.',
      checked: tenant.isActive,
    }),
    h(
      'div.form-actions',
      {},
      h('button.button.button--primary', { type: 'submit' }, 'Save changes'),
      h('button.button', { type: 'button', onclick: close }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showAlert(alert, '');
    setFieldErrors(form, {});
    const body = { name: form.elements.name.value, isActive: form.elements.isActive.checked };
    try {
      await busy(form, () => save(body));
    } catch (error) {
      const { '': general, ...fields } = error.fieldErrors;
      const first = setFieldErrors(form, fields);
      const message =
        error.status === 405 ? 'Editing is not available on this server yet.' : error.message;
      showAlert(alert, first ? (general ?? 'Check the highlighted fields.') : message);
      (first ?? alert).focus();
    }
  });
  return form;
}
