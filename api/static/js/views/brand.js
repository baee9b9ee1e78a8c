import { h } from '../dom.js';

export function brand(href = '#/') {
  return h(
    'a.brand',
    { href },
    h('img.brand-mark', { src: 'favicon.svg', alt: '', width: 28, height: 28 }),
    h('span.brand-name', {}, 'Tenantflow'),
  );
}
