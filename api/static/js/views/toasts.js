// Toasts in a polite live region; failures also use role="alert". They stay while hovered or
// focused, and can be dismissed with their button or Escape.

import { h, icon } from '../dom.js';

const MAX_VISIBLE = 4;
const LIFETIME_MS = { success: 8000, danger: 15000, info: 8000 };

const region = () => document.getElementById('toasts');

export function showToast({ tone = 'info', title, message, link, dataset = {} }) {
  const close = () => {
    clearTimeout(timer);
    toast.remove();
  };
  const toast = h(
    'div.toast',
    {
      class: `toast--${tone}`,
      role: tone === 'danger' ? 'alert' : null,
      ...Object.fromEntries(Object.entries(dataset).map(([k, v]) => [`data-${k}`, v])),
      onkeydown: (event) => event.key === 'Escape' && close(),
    },
    h(
      'span.toast-icon',
      {},
      icon(tone === 'danger' ? 'alert' : tone === 'success' ? 'check' : 'info'),
    ),
    h(
      'div.toast-body',
      {},
      h('p.toast-title', {}, title),
      message && h('p.toast-message', {}, message),
      link && h('a.toast-link', { href: link.href, onclick: close }, link.text),
    ),
    h('button.toast-close', { type: 'button', 'aria-label': 'Dismiss', onclick: close }, icon('x')),
  );
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(close, LIFETIME_MS[tone] ?? LIFETIME_MS.info);
  };
  for (const type of ['mouseenter', 'focusin'])
    toast.addEventListener(type, () => clearTimeout(timer));
  for (const type of ['mouseleave', 'focusout']) toast.addEventListener(type, arm);
  arm();
  const container = region();
  container.append(toast);
  while (container.children.length > MAX_VISIBLE) container.firstElementChild.remove();
  return toast;
}

export function clearToasts() {
  region().replaceChildren();
}
