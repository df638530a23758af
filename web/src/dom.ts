/**
 * A few DOM helpers. Everything shown is set as text, never as HTML: payloads, error messages and
 * names come from publishers and receivers, and must not run as markup in an admin's browser.
 */
export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined>;

/** An element with attributes (false and undefined leave one out) and children as text or nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A button that runs `action` on click, disabled while the action runs. */
export function button(
  label: string,
  action: () => Promise<void> | void,
  attributes: Attributes = {},
): HTMLButtonElement {
  const element = h('button', { type: 'button', ...attributes }, label);
  element.addEventListener('click', async () => {
    element.disabled = true;
    try {
      await action();
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

export function formatNumber(value: number): string {
  return numberFormat.format(value);
}

/** A duration in ms as a person reads it: 850 ms, 12.5 s, 4.2 min, 3.1 h. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${formatNumber(ms / 1_000)} s`;
  if (ms < 3_600_000) return `${formatNumber(ms / 60_000)} min`;
  return `${formatNumber(ms / 3_600_000)} h`;
}

/** An ISO time as the person's local date and time, to the second. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString('en-GB', { hour12: false });
}

/** A table with a header row and one row per item; `empty` is shown when there are no items. */
export function table<T>(
  columns: readonly string[],
  items: readonly T[],
  row: (item: T) => readonly Child[],
  empty: string,
): HTMLTableElement {
  const body = h('tbody');
  for (const item of items) body.appendChild(h('tr', {}, ...row(item).map((cell) => h('td', {}, cell))));
  if (items.length === 0)
    body.appendChild(h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty)));
  return h('table', {}, h('thead', {}, h('tr', {}, ...columns.map((column) => h('th', {}, column)))), body);
}
