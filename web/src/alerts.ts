/**
 * The alerts above every view, live: the ones firing now (Query.alerts), then every FIRING and
 * RESOLVED transition as it happens (Subscription.alerts). A resolved alert stays listed, marked so,
 * until a few newer ones push it out, so someone who looks away still sees that it fired. A key
 * without the stats scope cannot read alerts: then the list stays hidden rather than repeating the
 * refusal the views already show.
 */
import {
  DashboardAlertEventsDocument,
  type DashboardAlertEventsSubscription,
  DashboardAlertsDocument,
} from '../../client/generated/graphql.js';
import { AlertTransition } from '../../client/generated/schema.js';
import { formatTime, h, replaceChildren } from './dom.js';
import { onReconnected, request, subscribe } from './gateway.js';

type Alert = DashboardAlertEventsSubscription['alerts']['alert'];
interface Shown {
  alert: Alert;
  /** When it stopped firing; undefined while it fires. */
  resolvedAt?: string;
}

/** Resolved alerts kept on screen, newest first. */
const KEEP_RESOLVED = 5;

function item({ alert, resolvedAt }: Shown): HTMLLIElement {
  return h(
    'li',
    { 'data-alert': alert.id, 'data-state': resolvedAt ? 'resolved' : 'firing' },
    h('strong', {}, resolvedAt ? `RESOLVED ${alert.kind}` : alert.kind),
    ` ${alert.message} (since ${formatTime(alert.since)}`,
    resolvedAt ? `, resolved ${formatTime(resolvedAt)})` : ')',
  );
}

class AlertList {
  private readonly shown = new Map<string, Shown>();
  /** Ids the stream moved since the last read of Query.alerts began: the stream is newer news. */
  private readonly moved = new Set<string>();

  constructor(private readonly list: HTMLUListElement) {}

  apply({ transition, alert, at }: DashboardAlertEventsSubscription['alerts']): void {
    this.moved.add(alert.id);
    this.shown.delete(alert.id);
    this.shown.set(alert.id, transition === AlertTransition.Resolved ? { alert, resolvedAt: at } : { alert });
    this.render();
  }

  /** Reads the alerts firing now; those the list shows firing but the gateway no longer has resolved meanwhile. */
  async sync(): Promise<void> {
    this.moved.clear();
    const { alerts } = await request(DashboardAlertsDocument);
    const firing = new Set(alerts.map((alert) => alert.id));
    const now = new Date().toISOString();
    for (const [id, entry] of this.shown) {
      if (!this.moved.has(id) && !entry.resolvedAt && !firing.has(id)) entry.resolvedAt = now;
    }
    for (const alert of alerts) if (!this.moved.has(alert.id)) this.shown.set(alert.id, { alert });
    this.render();
  }

  hide(): void {
    this.list.hidden = true;
  }

  private render(): void {
    const entries = [...this.shown.values()].reverse();
    const firing = entries.filter((entry) => !entry.resolvedAt);
    const resolved = entries.filter((entry) => entry.resolvedAt).slice(0, KEEP_RESOLVED);
    for (const [id, entry] of this.shown)
      if (entry.resolvedAt && !resolved.includes(entry)) this.shown.delete(id);
    replaceChildren(this.list, ...firing.map(item), ...resolved.map(item));
    this.list.hidden = this.shown.size === 0;
  }
}

/** Follows the alerts into `list` until the answer is called; `stats` says whether the key may read them. */
export function followAlerts(list: HTMLUListElement, stats: boolean): () => void {
  replaceChildren(list);
  list.hidden = true;
  if (!stats) return () => {};
  const alerts = new AlertList(list);
  const resync = () => void alerts.sync().catch(() => alerts.hide());
  // Subscribed first, then read: a transition between the two is not lost.
  const stop = subscribe(
    DashboardAlertEventsDocument,
    {},
    {
      next: (data) => alerts.apply(data.alerts),
      error: () => alerts.hide(),
    },
  );
  const stopResync = onReconnected(resync);
  resync();
  return () => {
    stop();
    stopResync();
  };
}
