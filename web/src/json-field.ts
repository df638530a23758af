/**
 * A JSON editor: a textarea that checks its text as JSON while typing, and shows the error beside it
 * (tied to it with aria-describedby, so a screen reader reads it), whether the browser found it or
 * the gateway did (a payload failing its topic's schema answers VALIDATION with the failing path).
 */
import { h } from './dom.js';

export type JsonRead = { ok: true; value: unknown } | { ok: false };

export interface JsonField {
  /** The label, textarea and error line, to put in a form. */
  element: HTMLElement;
  textarea: HTMLTextAreaElement;
  /** The value, or `{ ok: false }` (the error shown) when the text is not JSON or not `kind`. */
  read(): JsonRead;
  /** Shows an error found elsewhere, or clears it with null. */
  setError(message: string | null): void;
}

let fields = 0;

export function jsonField(
  name: string,
  label: string,
  options: { value?: unknown; required?: boolean; kind?: 'object'; rows?: number } = {},
): JsonField {
  fields += 1;
  const errorId = `json-error-${fields}`;
  const textarea = h('textarea', {
    name,
    rows: options.rows ?? 6,
    spellcheck: 'false',
    class: 'json',
    'aria-describedby': errorId,
  });
  if (options.value !== undefined) textarea.value = JSON.stringify(options.value, null, 2);
  const error = h('p', { id: errorId, class: 'field-error', 'data-error-for': name });

  function setError(message: string | null): void {
    error.textContent = message ?? '';
    if (message) textarea.setAttribute('aria-invalid', 'true');
    else textarea.removeAttribute('aria-invalid');
  }

  function read(): JsonRead {
    const text = textarea.value.trim();
    if (text === '') {
      if (options.required) {
        setError(`${label} is required`);
        return { ok: false };
      }
      setError(null);
      return { ok: true, value: undefined };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      setError(`${label} is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`);
      return { ok: false };
    }
    if (options.kind === 'object' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      setError(`${label} must be a JSON object`);
      return { ok: false };
    }
    setError(null);
    return { ok: true, value };
  }

  textarea.addEventListener('input', () => read());
  return { element: h('label', { class: 'block' }, label, textarea, error), textarea, read, setError };
}
