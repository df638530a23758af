/**
 * A JSON editor (CodeMirror 6, bundled by Vite: highlighting, bracket matching, undo) that checks its
 * text as JSON while typing and shows the error under it, tied to it with aria-describedby so a screen
 * reader reads it, whether the browser found it or the gateway did (a payload failing its topic's
 * schema answers VALIDATION with the failing path). Tab is left to move focus: the editor is no
 * keyboard trap (Escape then Tab is not needed).
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { h } from './dom.js';

export type JsonRead = { ok: true; value: unknown } | { ok: false };

export interface JsonField {
  /** The label, editor and error line, to put in a form. */
  element: HTMLElement;
  /** Moves the keyboard focus into the editor. */
  focus(): void;
  /** The value, or `{ ok: false }` (the error shown) when the text is not JSON or not `kind`. */
  read(): JsonRead;
  /** Shows an error found elsewhere, or clears it with null. */
  setError(message: string | null): void;
}

let fields = 0;

/**
 * The page load's CSP nonce (server/dashboard.ts writes it into the page): CodeMirror puts its theme
 * in a `<style>` element, which the policy lets apply only with it.
 */
const STYLE_NONCE = document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';

export function jsonField(
  name: string,
  label: string,
  options: { value?: unknown; required?: boolean; kind?: 'object'; rows?: number } = {},
): JsonField {
  fields += 1;
  const errorId = `json-error-${fields}`;
  const labelId = `json-label-${fields}`;
  const error = h('p', { id: errorId, class: 'field-error', 'data-error-for': name });
  let check: () => JsonRead = () => ({ ok: true, value: undefined });
  const view = new EditorView({
    state: EditorState.create({
      doc: options.value === undefined ? '' : JSON.stringify(options.value, null, 2),
      extensions: [
        EditorView.cspNonce.of(STYLE_NONCE),
        history(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        json(),
        syntaxHighlighting(defaultHighlightStyle),
        bracketMatching(),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({
          'aria-labelledby': labelId,
          'aria-describedby': errorId,
          'aria-multiline': 'true',
          'data-json': name,
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) check();
        }),
        EditorView.theme({ '.cm-content': { minHeight: `${(options.rows ?? 6) * 1.4}em` } }),
      ],
    }),
  });

  function setError(message: string | null): void {
    error.textContent = message ?? '';
    if (message) view.contentDOM.setAttribute('aria-invalid', 'true');
    else view.contentDOM.removeAttribute('aria-invalid');
    // On the wrapper: CodeMirror owns the classes of its own element.
    wrapper.classList.toggle('invalid', Boolean(message));
  }

  function read(): JsonRead {
    const text = view.state.doc.toString().trim();
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
  check = read;

  const wrapper = h(
    'div',
    { class: 'block json-field', 'data-field': name },
    h('span', { id: labelId, class: 'label' }, label),
    view.dom,
    error,
  );
  return {
    element: wrapper,
    focus: () => view.focus(),
    read,
    setError,
  };
}
