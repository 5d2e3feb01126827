/** What every HubSpot operation file shares: the client, settings, and the caches of remote schema. */
import type { Clock } from '../../src/model/clock';
import type { ConnectorLogger } from '../connector';
import type { HubspotClient } from './client';
import type { EchoGuard } from './webhooks';
import type { PropertyShape } from './values';

export interface HubspotSettings {
  /** The multi-checkbox property holding tags. */
  tagProperty: string;
  /** Property group segsync creates its properties in. */
  propertyGroup: string;
  /** Mirror tags as MANUAL lists: every tag (`true`), these tags, or none. */
  tagLists: boolean | string[];
  /** Name prefix of tag lists (`segsync: vip`). */
  listPrefix: string;
}

export interface HubspotContext {
  client: HubspotClient;
  clock: Clock;
  logger: ConnectorLogger;
  settings: HubspotSettings;
  properties: PropertyCache;
  /** Tag → MANUAL list id, filled by ensureSchema or on first use. */
  listIds: Map<string, string>;
  echo: EchoGuard;
  /** The subscription types an unsubscribe covers: configured, or read once from HubSpot. */
  subscriptionIds: Promise<string[]> | undefined;
  /** How many subscription types there are, once known (so a push estimate can count unsubscribes). */
  subscriptionTypes: number | undefined;
  /** Runs schema changes one at a time (option lists are read-modify-write). */
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

/** A queue that runs one task at a time, in order; a failed task does not block the next. */
export function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** Contact property definitions, read once and refreshed when segsync changes them. */
export class PropertyCache {
  private byName: Map<string, PropertyShape> | undefined;
  private loading: Promise<Map<string, PropertyShape>> | undefined;

  constructor(private readonly client: HubspotClient) {}

  /** All definitions, fetched on first use (one call). */
  async all(): Promise<Map<string, PropertyShape>> {
    if (this.byName) return this.byName;
    this.loading ??= this.client.getProperties().then((answer) => {
      const map = new Map<string, PropertyShape>();
      for (const p of answer.results) {
        map.set(p.name, {
          name: p.name,
          type: p.type,
          fieldType: p.fieldType,
          options: p.options.map((o) => ({ value: o.value })),
          readOnly: p.modificationMetadata?.readOnlyValue === true || p.calculated === true,
        });
      }
      this.byName = map;
      return map;
    });
    try {
      return await this.loading;
    } finally {
      this.loading = undefined;
    }
  }

  /** The definitions if already read, without a call (webhook parsing is synchronous). */
  peek(): Map<string, PropertyShape> | undefined {
    return this.byName;
  }

  /** Records a definition segsync created or changed. */
  put(shape: PropertyShape): void {
    this.byName?.set(shape.name, shape);
  }

  /** Forgets everything: the next `all()` reads HubSpot again. */
  invalidate(): void {
    this.byName = undefined;
  }
}
