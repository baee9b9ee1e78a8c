// A small element builder, so views read like markup without a template engine or a build step.
// Text is always inserted as text nodes: data from the API never becomes HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.classList.add(...classes);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.classList.add(...String(value).split(/\s+/).filter(Boolean));
    } else if (key === 'value' || key === 'checked') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  el.append(...nodes(children));
  return el;
}

/** `el.replaceChildren`, skipping false, null and undefined as `h` does. */
export function fill(el, ...children) {
  el.replaceChildren(...nodes(children));
  return el;
}

function nodes(children) {
  return children
    .flat(Infinity)
    .filter((child) => child != null && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

// Constant markup only (never data), drawn on a 20×20 grid with a 1.8px stroke.
const ICONS = {
  check: '<path d="M4.5 10.5l3.5 3.5 7.5-8"/>',
  x: '<path d="M5.5 5.5l9 9M14.5 5.5l-9 9"/>',
  minus: '<path d="M5 10h10"/>',
  alert: '<path d="M10 2.8l7.8 13.7H2.2z"/><path d="M10 8v3.6M10 14v.2"/>',
  info: '<circle cx="10" cy="10" r="7.5"/><path d="M10 9v5M10 6.2v.2"/>',
  plus: '<path d="M10 4v12M4 10h12"/>',
  back: '<path d="M12 4.5L6.5 10l5.5 5.5"/>',
  external: '<path d="M11 4h5v5M16 4l-7 7M14 12v4H4V6h4"/>',
  search: '<circle cx="9" cy="9" r="5.5"/><path d="M13 13l4 4"/>',
  offline:
    '<path d="M2.5 7.5a11 11 0 0115 0M5 10.5a7.5 7.5 0 0110 0M7.6 13.4a3.6 3.6 0 014.8 0"/><path d="M3 3l14 14"/>',
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 20 20');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('icon');
  svg.innerHTML = ICONS[name] ?? '';
  return svg;
}

export function spinner() {
  return h('span.spinner', { 'aria-hidden': 'true' });
}

/** Replace `old` with `next`, keeping keyboard focus on the element with the same data-focus. */
export function swap(old, next) {
  const active = document.activeElement;
  const key = old.contains(active) ? active.dataset.focus : undefined;
  old.replaceWith(next);
  if (key) next.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus();
  return next;
}
