/**
 * Signed webhook deliveries from the sandbox: events are queued as the portal changes and POSTed in
 * batches of at most 100 to the configured URL, signed with `X-HubSpot-Signature-v3`, retried on failure.
 */
import type { Clock } from '../../../src/model/clock';
import { signV3 } from '../webhooks';
import type { PortalEvent } from './state';

export interface WebhookConfig {
  url: string;
  clientSecret: string;
  appId: number;
  portalId: number;
  /** Property names whose changes are delivered (HubSpot subscribes per property); default all. */
  properties?: string[];
  /** Delivery attempts per batch (default 3). */
  maxAttempts?: number;
}

export interface Delivery {
  status: number | 'error';
  events: number;
  attempt: number;
}

const BATCH = 100;

export class WebhookSender {
  private queue: Record<string, unknown>[] = [];
  private nextEventId = 1;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  readonly deliveries: Delivery[] = [];

  constructor(
    private readonly config: WebhookConfig,
    private readonly clock: Clock,
  ) {}

  /** Queues one portal event in HubSpot's payload shape; delivery follows shortly. */
  enqueue(event: PortalEvent): void {
    if (event.type === 'contact.propertyChange' && this.config.properties && !this.config.properties.includes(event.propertyName)) return;
    const payload: Record<string, unknown> = {
      eventId: this.nextEventId++,
      subscriptionId: 1,
      portalId: this.config.portalId,
      appId: this.config.appId,
      occurredAt: event.at,
      subscriptionType: event.type,
      attemptNumber: 0,
      objectId: Number(event.objectId),
      changeSource: event.origin.source,
      sourceId: event.origin.sourceId,
    };
    if (event.type === 'contact.propertyChange')
      Object.assign(payload, { propertyName: event.propertyName, propertyValue: event.propertyValue, changeFlag: 'UPDATED' });
    if (event.type === 'contact.merge')
      Object.assign(payload, { primaryObjectId: Number(event.primaryObjectId), mergedObjectIds: event.mergedObjectIds.map(Number) });
    this.queue.push(payload);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, 5);
  }

  /** Delivers everything queued so far; resolves when done. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batches: Record<string, unknown>[][] = [];
    while (this.queue.length > 0) batches.push(this.queue.splice(0, BATCH));
    this.inFlight = this.inFlight.then(async () => {
      for (const b of batches) await this.deliver(b);
    });
    return this.inFlight;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async deliver(events: Record<string, unknown>[]): Promise<void> {
    const max = this.config.maxAttempts ?? 3;
    for (let attempt = 0; attempt < max; attempt++) {
      for (const e of events) e.attemptNumber = attempt;
      const body = JSON.stringify(events);
      const timestamp = String(this.clock.now());
      try {
        const res = await fetch(this.config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hubspot-signature-v3': signV3(this.config.clientSecret, 'POST', this.config.url, body, timestamp),
            'x-hubspot-request-timestamp': timestamp,
          },
          body,
        });
        this.deliveries.push({ status: res.status, events: events.length, attempt });
        if (res.ok) return;
      } catch {
        this.deliveries.push({ status: 'error', events: events.length, attempt });
      }
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
    }
  }
}
