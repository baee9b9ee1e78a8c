// The new-tenant form, used by operators (POST /api/tenants) and by public sign-up
// (POST /api/signup). Validation is the API's: its 422 errors are shown next to each field.

import { h } from '../dom.js';
import { slugify } from '../format.js';
import { busy, checkbox, field, formAlert, setFieldErrors, showAlert } from './components.js';

export function tenantForm({ text, submitLabel, cancelHref, submit, done, isolation = true }) {
  const alert = formAlert();
  const form = h(
    'form.stack',
    { novalidate: true },
    alert,
    h(
      'div.grid-2',
      {},
      field({ name: 'name', label: text.name, autocomplete: 'organization', required: true }),
      field({
        name: 'id',
        label: text.id,
        hint: 'Lowercase letters, digits and single hyphens, 3–63 characters. It cannot be changed later.',
        autocomplete: 'off',
        spellcheck: 'false',
        required: true,
        class: 'mono',
      }),
    ),
    h(
      'div.grid-2',
      {},
      field({
        name: 'adminEmail',
        label: text.adminEmail,
        type: 'email',
        autocomplete: 'email',
        required: true,
      }),
      field({
        name: 'password',
        label: text.password,
        type: 'password',
        autocomplete: 'new-password',
        hint: 'At least 8 characters, with a letter and a digit.',
        required: true,
      }),
    ),
    isolation &&
      checkbox({
        name: 'hasIsolatedDatabase',
        label: 'Isolated database',
        hint: 'Its own PostgreSQL database instead of a schema in the shared tenants database.',
      }),
    h(
      'div.form-actions',
      {},
      h('button.button.button--primary', { type: 'submit' }, submitLabel),
      cancelHref && h('a.button', { href: cancelHref }, 'Cancel'),
    ),
  );

  // Suggest an id from the name until the id is typed in.
  const { id, name } = form.elements;
  id.addEventListener('input', () => (id.dataset.touched = 'true'), { once: true });
  name.addEventListener('input', () => {
    if (!id.dataset.touched) id.value = slugify(name.value);
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      id: String(data.get('id')).trim(),
      name: String(data.get('name')),
      adminEmail: String(data.get('adminEmail')).trim(),
      password: String(data.get('password')),
    };
    if (isolation) body.hasIsolatedDatabase = data.get('hasIsolatedDatabase') === 'on';
    showAlert(alert, '');
    setFieldErrors(form, {});
    try {
      const accepted = await busy(form, () => submit(body));
      done(accepted ?? body);
    } catch (error) {
      showError(form, alert, error);
    }
  });

  return form;
}

function showError(form, alert, error) {
  if (error.status === 422) {
    const { '': general, ...fields } = error.fieldErrors;
    const first = setFieldErrors(form, fields);
    showAlert(alert, general ?? (first ? 'Check the highlighted fields.' : error.message));
    (first ?? alert).focus();
  } else if (error.status === 409) {
    setFieldErrors(form, { id: 'This ID is taken.' });
    showAlert(alert, `${error.message}. Choose another ID.`);
    alert.focus();
  } else {
    showAlert(alert, error.message);
    alert.focus();
  }
}
