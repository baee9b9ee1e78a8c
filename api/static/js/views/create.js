// New tenant (root only): on 202 go straight to its page to watch the steps.

import { api } from '../api.js';
import { h, icon } from '../dom.js';
import { store } from '../store.js';
import { tenantForm } from './tenant-form.js';

export function mountCreate(main, { navigate }) {
  const form = tenantForm({
    text: { name: 'Name', id: 'Tenant ID', adminEmail: 'Admin e-mail', password: 'Admin password' },
    submitLabel: 'Create tenant',
    cancelHref: '#/',
    submit: (body) => api.createTenant(body),
    done: (accepted) => {
      store.upsert({ status: 'Pending', ...accepted });
      navigate(`#/tenants/${encodeURIComponent(accepted.id)}`);
    },
  });
  main.replaceChildren(
    h('a.back', { href: '#/' }, icon('back'), 'Tenants'),
    h(
      'div.page-head',
      {},
      h(
        'div',
        {},
        h('h1', { tabindex: '-1' }, 'New tenant'),
        h('p.lead', {}, 'Provisioning starts at once; you can watch each step on the next page.'),
      ),
    ),
    h('div.card.card--form', {}, form),
  );
  form.elements.name.focus();
  return {};
}
