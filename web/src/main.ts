import './style.css';
import { mountDeadLetters } from './dead-letters.js';
import { formatTime, h, replaceChildren } from './dom.js';
import { mountEvents } from './events.js';
import { apiKey, request, setApiKey } from './gateway.js';
import { mountOverview } from './overview.js';
import { showStatus } from './status.js';
import { mountTopology } from './topology.js';

type Mount = (root: HTMLElement) => () => void;

const VIEWS: ReadonlyArray<{ id: string; label: string; mount: Mount }> = [
  { id: 'overview', label: 'Overview', mount: mountOverview },
  { id: 'topology', label: 'Topics & queues', mount: mountTopology },
  { id: 'dead-letters', label: 'Dead letters', mount: mountDeadLetters },
  { id: 'events', label: 'Events', mount: mountEvents },
];
const HEALTH_EVERY_MS = 5_000;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The page has no #${id}`);
  return found as T;
}

const view = element<HTMLElement>('view');
const nav = element<HTMLElement>('nav');
let unmount: () => void = () => {};

/** Shows the view the URL's hash names (#dead-letters, …), the overview by default. */
function route(): void {
  const current = VIEWS.find((candidate) => `#${candidate.id}` === location.hash) ?? VIEWS[0];
  if (!current) return;
  unmount();
  showStatus('');
  replaceChildren(
    nav,
    ...VIEWS.map((candidate) =>
      h(
        'a',
        { href: `#${candidate.id}`, 'aria-current': candidate === current ? 'page' : undefined },
        candidate.label,
      ),
    ),
  );
  unmount = current.mount(view);
}

/** /health needs no key, so the badge tells Redis trouble apart from a refused key. */
async function checkHealth(): Promise<void> {
  const badge = element<HTMLElement>('health');
  try {
    const response = await fetch('/health', { cache: 'no-store' });
    const report = (await response.json()) as {
      ok: boolean;
      redis: boolean;
      draining: boolean;
      version: string;
    };
    badge.dataset.state = report.ok ? 'ok' : 'down';
    badge.textContent = report.ok
      ? `healthy · v${report.version}`
      : report.draining
        ? 'draining'
        : report.redis
          ? 'not ready'
          : 'Redis down';
  } catch {
    badge.dataset.state = 'down';
    badge.textContent = 'unreachable';
  }
}

const ALERTS = 'query DashboardAlerts { alerts { id kind message since } }';

interface FiringAlert {
  id: string;
  kind: string;
  message: string;
  since: string;
}

/**
 * The alerts firing now, above every view. A key without the stats scope cannot read them; then the
 * list stays hidden rather than repeating the refusal the views already show.
 */
async function checkAlerts(): Promise<void> {
  const list = element<HTMLUListElement>('alerts');
  try {
    const { alerts } = await request<{ alerts: FiringAlert[] }>(ALERTS);
    replaceChildren(
      list,
      ...alerts.map((alert) =>
        h(
          'li',
          { 'data-alert': alert.id },
          h('strong', {}, alert.kind),
          ` ${alert.message} (since ${formatTime(alert.since)})`,
        ),
      ),
    );
    list.hidden = alerts.length === 0;
  } catch {
    list.hidden = true;
  }
}

const keyInput = element<HTMLInputElement>('key');
keyInput.value = apiKey() ?? '';
element<HTMLFormElement>('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim() || null);
  route();
  void checkAlerts();
});
element<HTMLButtonElement>('forget-key').addEventListener('click', () => {
  keyInput.value = '';
  setApiKey(null);
  route();
});

window.addEventListener('hashchange', route);
route();
void checkHealth();
void checkAlerts();
setInterval(() => {
  void checkHealth();
  void checkAlerts();
}, HEALTH_EVERY_MS);
