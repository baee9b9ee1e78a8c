// Public sign-up (POST /api/signup): the same provisioning, without a signed-in user.

import { ApiError, api } from '../api.js';
import { h, icon } from '../dom.js';
import { brand } from './brand.js';
import { tenantForm } from './tenant-form.js';

export function mountSignup(main, { config }) {
  const card = h('div.auth-card.auth-card--wide.card');
  const form = tenantForm({
    text: {
      name: 'Organization name',
      id: 'Organization ID',
      adminEmail: 'Your e-mail',
      password: 'Choose a password',
    },
    submitLabel: 'Create organization',
    isolation: false,
    submit: (body) =>
      api.signUp(body).catch((error) => {
        if (error.status !== 404 && error.status !== 405) throw error;
        throw new ApiError(error.status, 'Sign-up is not available on this server.');
      }),
    done: (accepted) => {
      card.replaceChildren(
        h('div.auth-brand', {}, brand('#/')),
        h('div.success-mark', {}, icon('check')),
        h('h1.auth-title', { tabindex: '-1' }, 'We are setting things up'),
        h(
          'p.auth-lead',
          {},
          `Your organization “${accepted.id}” is being provisioned. You will get an e-mail once it is ready; then sign in with the tenant `,
          h('code', {}, accepted.id),
          '.',
        ),
        h('a.button.button--primary.button--block', { href: '#/' }, 'Go to sign in'),
      );
      card.querySelector('h1').focus();
    },
  });
  if (config().signupEnabled === false) {
    card.append(
      h('div.auth-brand', {}, brand('#/')),
      h('h1.auth-title', { tabindex: '-1' }, 'Sign-up is closed'),
      h(
        'p.auth-lead',
        {},
        'This deployment does not accept new organizations. Ask an operator for an account.',
      ),
      h('a.button.button--primary.button--block', { href: '#/' }, 'Go to sign in'),
    );
    main.replaceChildren(h('div.auth', {}, card));
    return {};
  }
  card.append(
    h('div.auth-brand', {}, brand('#/')),
    h('h1.auth-title', { tabindex: '-1' }, 'Create an organization'),
    h('p.auth-lead', {}, 'Get your own tenant: a database, an admin account, ready in seconds.'),
    form,
    h('p.auth-switch', {}, 'Already have an account? ', h('a', { href: '#/' }, 'Sign in')),
  );
  main.replaceChildren(h('div.auth', {}, card));
  form.elements.name.focus();
  return {};
}
