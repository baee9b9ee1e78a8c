// Sign in with e-mail, password and tenant (POST /api/auth/token, OAuth2 password form).

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { brand } from './brand.js';
import { busy, field, formAlert, setFieldErrors, showAlert } from './components.js';

// The token endpoint's form fields, and ours.
const FIELD_OF = { username: 'email', password: 'password', tenant: 'tenant' };

export function mountSignIn(main, { signIn, notice, config }) {
  const alert = formAlert();
  const form = h(
    'form.stack',
    { novalidate: true, 'aria-labelledby': 'signin-title' },
    notice && h('div.alert.alert--info', { role: 'status' }, icon('info'), h('span', {}, notice)),
    alert,
    field({
      name: 'email',
      label: 'E-mail',
      type: 'email',
      autocomplete: 'username',
      required: true,
    }),
    field({
      name: 'password',
      label: 'Password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    }),
    field({
      name: 'tenant',
      label: 'Tenant',
      value: 'root',
      autocomplete: 'organization',
      spellcheck: 'false',
      hint: 'Operators sign in to root; a tenant’s users sign in to their tenant’s ID.',
    }),
    h('button.button.button--primary.button--block', { type: 'submit' }, 'Sign in'),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    showAlert(alert, '');
    setFieldErrors(form, {});
    try {
      const tenant = String(data.get('tenant')).trim() || 'root';
      const answer = await busy(form, () =>
        api.signIn(String(data.get('email')).trim(), String(data.get('password')), tenant),
      );
      signIn(answer.access_token);
    } catch (error) {
      if (error.status === 422) {
        const errors = {};
        for (const [name, message] of Object.entries(error.fieldErrors)) {
          errors[FIELD_OF[name] ?? ''] =
            name === 'username' || name === 'password' ? 'Required' : message;
        }
        setFieldErrors(form, errors)?.focus();
        return;
      }
      const message =
        error.status === 401
          ? 'Incorrect e-mail, password or tenant. Check them and try again.'
          : error.message;
      showAlert(alert, message);
      form.elements.password.select();
      form.elements.password.focus();
    }
  });

  main.replaceChildren(
    h(
      'div.auth',
      {},
      h(
        'div.auth-card.card',
        {},
        h('div.auth-brand', {}, brand('#/')),
        h('h1.auth-title', { id: 'signin-title', tabindex: '-1' }, 'Sign in'),
        h('p.auth-lead', {}, 'Watch and steer tenant provisioning, live.'),
        form,
        config().signupEnabled !== false &&
          h(
            'p.auth-switch',
            {},
            'New here? ',
            h('a', { href: '#/signup' }, 'Create an organization'),
          ),
      ),
    ),
  );
  form.elements.email.focus();
  return {};
}
