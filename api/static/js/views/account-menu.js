// The signed-in user's own settings, in a small menu of the top bar: for now whether
// notifications no tab of theirs showed in time are e-mailed to them (PUT /api/me/preferences).

import { api } from '../api.js';
import { h } from '../dom.js';

export function accountMenu() {
  const status = h('p.account-status', { role: 'status' });
  const checkbox = h('input', { type: 'checkbox', disabled: true, 'data-focus': 'notify-by-email' });
  const menu = h(
    'details.account',
    { onkeydown: (event) => event.key === 'Escape' && close() },
    h('summary.button.button--ghost', {}, 'Settings'),
    h(
      'div.account-panel',
      {},
      h(
        'label.account-option',
        {},
        checkbox,
        h('span', {}, 'E-mail me notifications I did not see within a few minutes'),
      ),
      status,
    ),
  );
  const close = () => {
    menu.open = false;
    menu.querySelector('summary').focus();
  };

  const show = (value) => {
    checkbox.checked = value;
    checkbox.disabled = false;
  };
  api.preferences().then(
    (prefs) => show(prefs.notifyByEmail),
    (error) => (status.textContent = error.message),
  );
  // Stays enabled while saving: disabling it would drop keyboard focus out of the menu. Each
  // change sends the whole preference, so the last one wins.
  checkbox.addEventListener('change', async () => {
    const wanted = checkbox.checked;
    status.textContent = 'Saving…';
    try {
      show((await api.setPreferences({ notifyByEmail: wanted })).notifyByEmail);
      status.textContent = wanted ? 'E-mails on.' : 'E-mails off.';
    } catch (error) {
      show(!wanted);
      status.textContent = error.message;
    }
  });
  return menu;
}
