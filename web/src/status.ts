import { GatewayError } from './gateway.js';

/** The one status line under the header: what just happened, or why it did not. */
export function showStatus(message: string, kind: 'info' | 'error' = 'info'): void {
  const status = document.getElementById('status');
  if (!status) return;
  status.textContent = message;
  status.dataset.kind = kind;
}

export function showError(error: unknown): void {
  if (error instanceof GatewayError) showStatus(`${error.code}: ${error.message}`, 'error');
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
