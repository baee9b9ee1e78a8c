// Public sign-up (POST /api/signup): the same provisioning, without a signed-in user.

import { ApiError, api } from '../api.js';
import { h, icon } from '../dom.js';
import { isTerminal } from '../format.js';
import { LiveStream } from '../sse.js';
import { brand } from './brand.js';
import { statusBadge } from './components.js';
import { stepList } from './steps.js';
import { tenantForm } from './tenant-form.js';

export function mountSignup(main, { config }) {
  let stream = null;
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
      const name = accepted.name ?? accepted.id;
      const status = h('div.signup-status', { 'aria-live': 'polite' });
      const steps = h('div.signup-steps');
      const next = h('div');
      card.replaceChildren(
        h('div.auth-brand', {}, brand('#/')),
        h('h1.auth-title', { tabindex: '-1' }, `Setting up ${name}`),
        h(
          'p.auth-lead',
          {},
          `Your organization “${name}” is being set up; you can watch it here. You will sign in with the tenant `,
          h('code', {}, accepted.id),
          '.',
        ),
        status,
        steps,
        next,
      );
      card.querySelector('h1').focus();
      stream?.stop();
      stream = followSignup(accepted, { status, steps, next });
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
    h('p.auth-lead', {}, 'Get your own tenant: its own schema and an admin account, ready in seconds.'),
    form,
    h('p.auth-switch', {}, 'Already have an account? ', h('a', { href: '#/' }, 'Sign in')),
  );
  main.replaceChildren(h('div.auth', {}, card));
  form.elements.name.focus();
  return { cleanup: () => stream?.stop() };
}

/** The provisioning of the new organization, live, with the token only this sign-up got. */
function followSignup(accepted, { status, steps, next }) {
  if (!accepted.progressToken) return null; // an older server: no live progress
  const path = `/api/signup/${encodeURIComponent(accepted.id)}/events`;
  const stream = new LiveStream(
    () => `${path}?token=${encodeURIComponent(accepted.progressToken)}`,
    {
      events: {
        progress: (snapshot) => {
          status.replaceChildren(statusBadge(snapshot.status));
          // The welcome e-mail is sent after the tenant is Active, when the stream has ended:
          // the outcome below mentions it instead of a step that would look stuck.
          const shown = snapshot.steps.filter((step) => step.name !== 'send_welcome_email');
          if (shown.length) steps.replaceChildren(stepList(shown));
          if (!isTerminal(snapshot.status)) return;
          stream.stop();
          next.replaceChildren(outcome(accepted, snapshot));
        },
      },
    },
  );
  stream.start();
  return stream;
}

function outcome(accepted, snapshot) {
  if (snapshot.status === 'Active') {
    return h(
      'div.stack',
      {},
      h(
        'div.alert.alert--success',
        { role: 'status' },
        icon('check'),
        h('span', {}, 'Your organization is ready, and a welcome e-mail is on its way. Sign in now.'),
      ),
      h('a.button.button--primary.button--block', { href: '#/' }, 'Go to sign in'),
    );
  }
  return h(
    'div.alert.alert--danger',
    { role: 'alert' },
    icon('alert'),
    h(
      'span',
      {},
      `Setting up your organization did not finish (${snapshot.status}). `,
      snapshot.error ? `${snapshot.error} ` : '',
      'Contact the operators of this service and mention the ID ',
      h('code', {}, accepted.id),
      '.',
    ),
  );
}
