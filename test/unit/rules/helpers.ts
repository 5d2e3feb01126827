/** Shared fixtures for rules tests: a real in-memory store, a manual clock, the example config. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load';
import type { LoadedConfig } from '../../../src/config/load';
import { ManualClock } from '../../../src/model/clock';
import type { ConsentStatus, EventProperties, FieldValue } from '../../../src/model/types';
import { SegmentEngine } from '../../../src/rules/engine';
import type { EngineOptions } from '../../../src/rules/engine';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

export const TEMPLATE = join(__dirname, '../../../templates/segsync.yaml');

/** The example segsync.yaml as shipped. */
export function templateConfig(): LoadedConfig {
  return parseConfig(readFileSync(TEMPLATE, 'utf8'), TEMPLATE, {
    env: { HUBSPOT_ACCESS_TOKEN: 'test', MAILCHIMP_API_KEY: 'test-us1', KLAVIYO_API_KEY: 'test' },
    secrets: { connectors: true, daemon: false },
  });
}

/** A store, clock and engine over the example config, with helpers to add contacts and events. */
export class World {
  readonly clock = new ManualClock(T0);
  readonly store: SqliteStore;
  readonly engine: SegmentEngine;

  /** `path`: a store file (see `storeFilePerTest`) instead of memory. */
  constructor(
    config: LoadedConfig = templateConfig(),
    options: EngineOptions = {},
    readonly path = ':memory:',
  ) {
    this.store = new SqliteStore({ path, now: () => this.clock.now() });
    this.engine = SegmentEngine.fromConfig(config, this.store, this.clock, options);
    this.engine.load();
  }

  contact(email: string, options: { properties?: Record<string, FieldValue>; tags?: string[]; consent?: ConsentStatus; createdAt?: number } = {}): number {
    const [r] = this.store.upsertContacts([
      { email, properties: options.properties ?? {}, tags: options.tags, consent: options.consent, source: 'local', time: options.createdAt ?? T0 - 365 * DAY },
    ]);
    this.engine.onContacts([r!.contactId]);
    return r!.contactId;
  }

  event(email: string, name: string, time: number, properties: EventProperties = {}): void {
    const out = this.store.appendEvents([{ email, name, time, properties, source: 'track' }]);
    this.engine.onEvents(out.touched);
  }

  /** The segment's value for a contact, evaluated at `at` without storing. */
  valueAt(id: number, segment: string, at: number): FieldValue {
    const r = this.engine.evaluateContact(id, { now: at, save: false })!;
    return r.states.find((s) => s.segment === segment)!.value;
  }

  nextChangeAt(id: number, at: number): number | undefined {
    return this.engine.evaluateContact(id, { now: at, save: false })!.nextChangeAt;
  }

  stored(id: number, segment: string): FieldValue | undefined {
    return this.store.getSegmentStates(id).find((s) => s.segment === segment)?.value;
  }
}

/**
 * A fresh store file per test (several connections to it stand for several processes): `open()`
 * connects, and every connection is closed and the folder removed after each test.
 */
export function storeFilePerTest(): { open: () => SqliteStore; path: () => string } {
  let dir = '';
  const opened: SqliteStore[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-rules-'));
  });
  afterEach(() => {
    for (const s of opened.splice(0)) if (s.db.open) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    open: () => {
      const s = new SqliteStore({ path: join(dir, 'store.db'), now: () => T0 });
      opened.push(s);
      return s;
    },
    path: () => join(dir, 'store.db'),
  };
}
