import './style.css';
import { followAlerts } from './alerts.js';
import { type Capabilities, capabilities, forgetCapabilities } from './capabilities.js';
import { mountCharts, resetCharts } from './charts.js';
import { mountDeadLetters } from './dead-letters.js';
import { h, replaceChildren } from './dom.js';
import { mountEvents } from './events.js';
import { apiKey, setApiKey } from './gateway.js';
import { mountHistory } from './history.js';
import { mountKeys } from './keys.js';
import { mountOverview } from './overview.js';
import { mountPublish } from './publish.js';
import { showError, showStatus } from './status.js';
import { mountTail } from './tail.js';
import { mountTopology } from './topology.js';

type Mount = (root: HTMLElement, can: Capabilities) => () => void;

/** Every view, and what the key needs for it to be offered at all. */
const VIEWS: ReadonlyArray<{ id: string; label: string; mount: Mount; needs?: keyof Capabilities }> = [
  { id: 'overview', label: 'Overview', mount: mountOverview, needs: 'stats' },
  { id: 'topology', label: 'Topics & queues', mount: mountTopology },
  { id: 'publish', label: 'Publish', mount: mountPublish },
  { id: 'tail', label: 'Live tail', mount: mountTail },
  { id: 'history', label: 'History', mount: mountHistory },
  { id: 'dead-letters', label: 'Dead letters', mount: mountDeadLetters },
  { id: 'charts', label: 'Charts', mount: mountCharts, needs: 'stats' },
  { id: 'events', label: 'Events', mount: mountEvents },
  { id: 'keys', label: 'Keys & audit', mount: mountKeys, needs: 'admin' },
];
/** What a key that could not be asked about is offered: the views every key may open. */
const NOTHING: Capabilities = { admin: false, stats: false };
const HEALTH_EVERY_MS = 5_000;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The page has no #${id}`);
  return found as T;
}

const view = element<HTMLElement>('view');
const nav = element<HTMLElement>('nav');
let unmount: () => void = () => {};
let routes = 0;

/**
 * Shows the view the URL's hash names (#dead-letters, …), the first one the key may open by default.
 * Views the key cannot use are neither linked nor opened.
 */
async function route(): Promise<void> {
  routes += 1;
  const mine = routes;
  let can = NOTHING;
  try {
    can = await capabilities();
  } catch (error) {
    showError(error);
  }
  if (mine !== routes) return;
  const offered = VIEWS.filter((candidate) => !candidate.needs || can[candidate.needs]);
  const current = offered.find((candidate) => `#${candidate.id}` === location.hash) ?? offered[0];
  if (!current) return;
  unmount();
  showStatus('');
  replaceChildren(
    nav,
    ...offered.map((candidate) =>
      h(
        'a',
        { href: `#${candidate.id}`, 'aria-current': candidate === current ? 'page' : undefined },
        candidate.label,
      ),
    ),
    can.admin && h('a', { href: '/queues/', class: 'external' }, 'bull-board'),
  );
  unmount = current.mount(view, can);
  document.title = `${current.label} · Switchyard`;
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

let stopAlerts: () => void = () => {};
let alertFollows = 0;

/** The alerts above every view, followed again whenever the key changes. */
async function restartAlerts(): Promise<void> {
  alertFollows += 1;
  const mine = alertFollows;
  stopAlerts();
  stopAlerts = () => {};
  const can = await capabilities().catch(() => NOTHING);
  if (mine !== alertFollows) return;
  stopAlerts = followAlerts(element<HTMLUListElement>('alerts'), can.stats);
}

const keyInput = element<HTMLInputElement>('key');
keyInput.value = apiKey() ?? '';
element<HTMLFormElement>('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim() || null);
  forgetCapabilities();
  resetCharts();
  void route();
  void restartAlerts();
});
element<HTMLButtonElement>('forget-key').addEventListener('click', () => {
  keyInput.value = '';
  setApiKey(null);
  forgetCapabilities();
  resetCharts();
  void route();
  void restartAlerts();
});

window.addEventListener('hashchange', () => void route());
void route();
void checkHealth();
void restartAlerts();
setInterval(() => void checkHealth(), HEALTH_EVERY_MS);
