// The connection banner: shown while the API cannot be reached, with the next retry and a way
// to retry now; says "Reconnected" briefly once it is back.

import * as connection from '../connection.js';
import { h, icon } from '../dom.js';

const RECONNECTED_MS = 2500;

export function mountBanner(el, { retryNow }) {
  const when = h('span.banner-when');
  const offline = [
    icon('offline'),
    h(
      'span',
      {},
      h('strong', {}, 'Connection to the server lost. '),
      when,
      ' Live updates resume when it is back.',
    ),
    h('button.banner-action', { type: 'button', onclick: retryNow }, 'Retry now'),
  ];
  let ticker = null;
  let hideTimer = null;

  const tick = () => {
    const at = connection.nextRetryAt();
    const seconds = at ? Math.ceil((at - Date.now()) / 1000) : 0;
    when.textContent = seconds > 0 ? `Reconnecting in ${seconds} s…` : 'Reconnecting…';
  };

  connection.onChange(({ online, recovered }) => {
    clearTimeout(hideTimer);
    if (!online) {
      if (el.dataset.state !== 'offline') {
        el.dataset.state = 'offline';
        el.className = 'banner banner--offline';
        el.replaceChildren(...offline);
      }
      el.hidden = false;
      tick();
      ticker ??= setInterval(tick, 1000);
      return;
    }
    clearInterval(ticker);
    ticker = null;
    el.dataset.state = 'online';
    if (!recovered) {
      el.hidden = true;
      return;
    }
    el.className = 'banner banner--online';
    el.replaceChildren(icon('check'), h('span', {}, 'Reconnected.'));
    hideTimer = setTimeout(() => (el.hidden = true), RECONNECTED_MS);
  });
}
