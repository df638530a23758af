import { GatewayError } from './gateway.js';

/** The one status line under the header: what just happened, or why it did not. */
export function showStatus(message: string, kind: 'info' | 'error' = 'info'): void {
  const status = document.getElementById('status');
  if (!status) return;
  status.textContent = message;
  status.dataset.kind = kind;
}

/** What the person can do about a refusal, beside the gateway's own message. */
function whatToDo(error: GatewayError): string {
  const scope = error.details.requiredScope;
  switch (error.code) {
    case 'UNAUTHENTICATED':
      return ' Enter a valid API key above.';
    case 'FORBIDDEN':
      return typeof scope === 'string' && scope.endsWith(':#')
        ? ' This key is not granted every topic: name one topic in the filter.'
        : ' Use a key with that scope, or ask an admin for one.';
    case 'RATE_LIMITED':
      return ' Wait a moment, then try again.';
    default:
      return '';
  }
}

export function showError(error: unknown): void {
  if (error instanceof GatewayError) showStatus(`${error.code}: ${error.message}${whatToDo(error)}`, 'error');
  else showStatus(error instanceof Error ? error.message : String(error), 'error');
}

/** Runs an action and reports its failure on the status line instead of throwing. */
export async function reported(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}
