/**
 * `segsync demo`: the whole product on loopback, with no credentials and no network. Starts the three
 * ESP sandboxes and the daemon on a fresh SQLite file, seeds a few hundred shoppers across the ESPs,
 * streams their behaviour through the track API while simulated time runs fast, shows segments
 * turning into tags and properties in each sandbox as they happen, then writes a preview report of
 * the example templates over the demo's contacts.
 */
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { styleText } from 'node:util';
import { parseDocument } from 'yaml';
import type { SandboxServer } from '../../connectors/connector';
import { SANDBOX_CREDENTIALS, startSandbox } from '../../connectors/registry';
import { loadConfigFile } from '../config/load';
import type { SegsyncConfig } from '../config/schema';
import { startDaemon } from '../daemon/daemon';
import type { RunningDaemon } from '../daemon/daemon';
import { createServices } from '../daemon/wire';
import { ValidationError } from '../errors';
import { createLogger } from '../log/logger';
import { ShiftedClock } from '../model/clock';
import { ESP_NAMES } from '../model/types';
import { formatUtcMinute } from '../model/units';
import type { EspName } from '../model/types';
import { previewFolder } from '../preview/batch';
import { branchCoverage } from '../preview/coverage';
import { isMemberJson } from '../model/membership';
import { openStore } from '../store/sqlite/sqlite-store';
import type { Store } from '../store/store';
import { resolveMapping } from '../sync/mapping';
import type { DemoEvent, Shopper } from './demo-shoppers';
import { castShoppers, ShopperSimulation } from './demo-shoppers';
import type { MarkChange, Marks } from './demo-view';
import { countMarks, diffMarks, markDifferences, readMarks, tagPlacements, targetsByEsp } from './demo-view';
import { freeLoopbackPort } from '../daemon/free-port';
import { prepareDemoFolder } from './demo-folder';
import { writeDemoTemplates } from './demo-scenarios';
import { addThumbnails } from './demo-thumbnails';
import { envSetting } from '../config/env';
import { packageRoot } from '../package-root';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LABEL: Record<EspName, string> = { hubspot: 'HubSpot', mailchimp: 'Mailchimp', klaviyo: 'Klaviyo' };
/** Environment variables the demo's config refers to; set in this process only, to sandbox credentials. */
const DEMO_ENV = {
  SEGSYNC_DEMO_HUBSPOT_TOKEN: SANDBOX_CREDENTIALS.hubspot,
  SEGSYNC_DEMO_HUBSPOT_SECRET: 'demo-hubspot-client-secret',
  SEGSYNC_DEMO_MAILCHIMP_KEY: SANDBOX_CREDENTIALS.mailchimp,
  SEGSYNC_DEMO_MAILCHIMP_HOOK: 'demo-mailchimp-hook-secret',
  SEGSYNC_DEMO_KLAVIYO_KEY: SANDBOX_CREDENTIALS.klaviyo,
  SEGSYNC_DEMO_KLAVIYO_HOOK: 'demo-klaviyo-hook-secret',
  SEGSYNC_DEMO_TRACK_TOKEN: 'demo-track-token',
};

export interface DemoOptions {
  /** Folder for the demo's store, config, log and report: new, empty, or made by an earlier demo (then emptied). */
  dir: string;
  contacts: number;
  seed: number;
  /** Real seconds the live part lasts. */
  durationSeconds: number;
  /** Simulated days the live part covers. */
  days: number;
  /** Days of back-dated history sent before the live part. */
  historyDays: number;
  out: NodeJS.WritableStream;
  color: boolean;
}

export interface DemoSummary {
  contacts: number;
  events: number;
  /** Segment changes seen in the sandboxes during the live part. */
  changes: number;
  /** Members per segment: locally, and as carried by each ESP at the end. */
  segments: { segment: string; local: number; esps: Partial<Record<EspName, number>> }[];
  /** Operations still queued at the end (0 when every ESP caught up). */
  outbox: number;
  /** Operations given up on (dead-lettered) by the end. */
  failed: number;
  report: string;
  config: string;
}

/** The example config with connectors, store and daemon pointed at this demo's sandboxes and folder. */
function demoConfigText(dir: string, sandboxes: Map<EspName, SandboxServer>, port: number, speed: number): string {
  const doc = parseDocument(readFileSync(join(packageRoot(), 'templates', 'segsync.yaml'), 'utf8'));
  const at = (esp: EspName): Record<string, string> => ({ ...sandboxes.get(esp)!.connectorSettings, baseUrl: sandboxes.get(esp)!.url });
  doc.setIn(['store', 'path'], join(dir, 'segsync.db'));
  doc.setIn(
    ['connectors'],
    doc.createNode({
      hubspot: { accessToken: '${SEGSYNC_DEMO_HUBSPOT_TOKEN}', clientSecret: '${SEGSYNC_DEMO_HUBSPOT_SECRET}', ...at('hubspot') },
      // Jobs are waited for on the demo's fast clock: at the defaults a Mailchimp batch job would have
      // 9 real ms to finish. Here it has 30 real seconds, polled every 50 real ms (Klaviyo every 100).
      mailchimp: {
        apiKey: '${SEGSYNC_DEMO_MAILCHIMP_KEY}',
        webhookSecret: '${SEGSYNC_DEMO_MAILCHIMP_HOOK}',
        batchPollMs: Math.ceil(50 * speed),
        batchTimeoutMs: Math.ceil(30_000 * speed),
        ...at('mailchimp'),
      },
      klaviyo: {
        apiKey: '${SEGSYNC_DEMO_KLAVIYO_KEY}',
        webhookSecret: '${SEGSYNC_DEMO_KLAVIYO_HOOK}',
        jobPollIntervalMs: Math.ceil(100 * speed),
        jobTimeoutMs: Math.ceil(30_000 * speed),
        ...at('klaviyo'),
      },
    }),
  );
  doc.setIn(
    ['daemon'],
    doc.createNode({ port, trackToken: '${SEGSYNC_DEMO_TRACK_TOKEN}', publicUrl: `http://127.0.0.1:${port}`, pullIntervalSeconds: Math.ceil(speed) }),
  );
  doc.commentBefore = " The demo's config: templates/segsync.yaml pointed at the local sandboxes (written by `segsync demo`).";
  return doc.toString();
}

/** Field values by each ESP's field names, from the config's mappings of first_name and country. */
function seedsFor(esp: EspName, shoppers: Shopper[], config: SegsyncConfig): { email: string; properties: Record<string, string> }[] {
  const remote = new Map((config.mappings[esp] ?? []).map((m) => [m.local, m.remote]));
  return shoppers
    .filter((s) => s.homes.includes(esp))
    .map((s) => {
      const properties: Record<string, string> = {};
      if (remote.has('first_name')) properties[remote.get('first_name')!] = s.firstName;
      if (remote.has('country')) properties[remote.get('country')!] = s.country;
      return { email: s.email, properties };
    });
}

/** Terminal output with optional colour. */
class Screen {
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly color: boolean,
  ) {}

  line(text = ''): void {
    this.out.write(`${text}\n`);
  }

  style(format: Parameters<typeof styleText>[0], text: string): string {
    return this.color ? styleText(format, text) : text;
  }
}

function describeChange(c: MarkChange, screen: Screen): string {
  const where = ESP_NAMES.filter((e) => c.esps.includes(e))
    .map((e) => LABEL[e])
    .join(', ');
  const label = c.value === undefined || c.value === true ? c.segment : `${c.segment} = ${String(c.value)}`;
  const sign = c.value === undefined ? screen.style('red', '−') : screen.style('green', '+');
  return `${sign} ${label.padEnd(34)} ${c.email.padEnd(36)} ${c.value === undefined ? 'off' : 'on'} in ${where}`;
}

/** Posts events to the daemon's batch endpoint, `size` at a time. */
async function sendEvents(daemon: RunningDaemon, events: DemoEvent[], startId: number): Promise<void> {
  for (let i = 0; i < events.length; i += 400) {
    const batch = events.slice(i, i + 400).map((e, k) => ({
      type: 'track',
      messageId: `demo-${startId + i + k}`,
      event: e.event,
      email: e.email,
      timestamp: new Date(e.time).toISOString(),
      properties: e.properties,
    }));
    const res = await fetch(`${daemon.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_ENV.SEGSYNC_DEMO_TRACK_TOKEN}` },
      body: JSON.stringify({ batch }),
    });
    if (res.status >= 300) {
      throw new ValidationError(`the daemon refused demo events ${startId + i + 1}–${startId + i + batch.length}: ${res.status} ${await res.text()}`, {
        hint: "the daemon's side is in the demo folder's daemon.log; this is a bug in the demo, please report it",
      });
    }
  }
}

async function until(check: () => boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

/** Runs the demo end to end and returns what it saw. */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const screen = new Screen(options.out, options.color);
  const dir = resolve(options.dir);
  prepareDemoFolder(dir);
  const speed = (options.days * DAY) / (options.durationSeconds * 1000);
  const clock = new ShiftedClock(Date.now(), speed);
  Object.assign(process.env, DEMO_ENV);

  const port = await freeLoopbackPort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const sandboxes = new Map<EspName, SandboxServer>();
  let daemon: RunningDaemon | undefined;
  try {
    for (const esp of ESP_NAMES) {
      // No HubSpot webhooks here: HubSpot refuses deliveries older than five minutes, and at the
      // demo's speed five simulated minutes pass in a hundredth of a real second. Pulls carry its changes.
      const { server } = await startSandbox(esp, {
        clock,
        ...(esp === 'klaviyo' ? { webhookSecret: DEMO_ENV.SEGSYNC_DEMO_KLAVIYO_HOOK } : {}),
      });
      sandboxes.set(esp, server);
    }
    const configFile = join(dir, 'segsync.yaml');
    writeFileSync(configFile, demoConfigText(dir, sandboxes, port, speed));
    const loaded = loadConfigFile(configFile);
    const { config } = loaded;

    screen.line(
      screen.style('bold', 'segsync demo') + ` — everything on loopback, simulated time runs ${Math.round(speed).toLocaleString('en-US')}× real time`,
    );
    for (const [esp, s] of sandboxes) screen.line(`  ${LABEL[esp].padEnd(10)} sandbox  ${s.url}`);
    screen.line(
      `  daemon             ${publicUrl}   (store ${relative(process.cwd(), config.store.path)}, log ${relative(process.cwd(), join(dir, 'daemon.log'))})`,
    );

    const shoppers = castShoppers(options.contacts, options.seed);
    for (const [esp, s] of sandboxes) s.seedContacts(seedsFor(esp, shoppers, config));
    const homes = ESP_NAMES.map((e) => `${shoppers.filter((s) => s.homes.includes(e)).length} in ${LABEL[e]}`).join(', ');
    screen.line(`\nSeeded ${shoppers.length} shoppers across the ESPs (${homes}); the daemon pulls them in.`);

    const logger = createLogger({ level: 'info', destination: createWriteStream(join(dir, 'daemon.log')) });
    const store = openStore(config.store.path);
    const services = await createServices({ config, loaded, store, clock, logger });
    daemon = await startDaemon({
      services,
      logger,
      clock,
      port,
      trackToken: DEMO_ENV.SEGSYNC_DEMO_TRACK_TOKEN,
      publicUrl,
      fields: config.fields,
      pullIntervalMs: config.daemon.pullIntervalSeconds * 1000,
      // Every ~50 real ms: time-based flips (24 h after a cart add) land within a simulated hour.
      reevaluateIntervalMs: Math.ceil(50 * speed),
    });
    // Polled every 100 ms: read at most as many contact ids as there are shoppers, not every count the store keeps.
    const pulled = await until(() => store.contactIds(0, shoppers.length).length >= shoppers.length, 30_000);
    screen.line(
      pulled
        ? `  ${store.counts().contacts} contacts in the local store, merged by email.`
        : `  the first pull is still running (${store.counts().contacts} of ${shoppers.length} so far).`,
    );

    const simulation = new ShopperSimulation(shoppers, options.seed);
    const history = simulation.history(clock.now(), options.historyDays);
    await sendEvents(daemon, history, 0);
    let sent = history.length;
    screen.line(`Sent ${history.length.toLocaleString('en-US')} past events (${options.historyDays} days of history) to POST /v1/batch.\n`);

    const mapping = resolveMapping(config);
    const targets = targetsByEsp(mapping);
    const placements = tagPlacements(config);
    const readAll = (): Map<EspName, Marks> =>
      new Map([...sandboxes].map(([esp, s]) => [esp, readMarks(s.contacts(), targets.get(esp) ?? [], placements.get(esp)!)]));

    screen.line(screen.style('bold', `Live: ${options.days} simulated days in ${options.durationSeconds} s. Segment changes as the sandboxes show them:`));
    let marks = readAll();
    let changes = 0;
    let simFrom = clock.now();
    const liveEnd = Date.now() + options.durationSeconds * 1000;
    let nextView = Date.now() + 1000;
    while (Date.now() < liveEnd) {
      await new Promise((r) => setTimeout(r, 200));
      const simTo = clock.now();
      const events = simulation.eventsBetween(simFrom, simTo);
      simFrom = simTo;
      await sendEvents(daemon, events, sent);
      sent += events.length;
      if (Date.now() >= nextView) {
        nextView = Date.now() + 1000;
        const next = readAll();
        const seen = diffMarks(marks, next);
        marks = next;
        changes += seen.length;
        showChanges(screen, seen, simTo, sent);
      }
    }

    screen.line('\nEvents stopped; letting the outbox drain …');
    // The fast clock keeps running, so time-based segments keep flipping (a cart abandoned 24 simulated
    // hours after its last add) and queueing pushes while the outbox drains. The closing table is read
    // at a quiet moment: the outbox empty, then segsync's answers the same before and after reading the
    // sandboxes and the store's counts, with nothing queued or in flight after it.
    const drained = (): boolean => services.outboxDepth().every((o) => o.pending === 0);
    const settleBy = Date.now() + 20_000;
    let final: Map<EspName, Marks>;
    let counts: ReturnType<typeof store.counts>;
    let quiet: boolean;
    await until(drained, Math.max(0, settleBy - Date.now()), 200);
    do {
      await until(drained, Math.max(0, settleBy - Date.now()), 50);
      const before = answersKey(store);
      final = readAll();
      counts = store.counts();
      quiet = drained() && answersKey(store) === before;
    } while (!quiet && Date.now() < settleBy);
    const lastSeen = diffMarks(marks, final);
    changes += lastSeen.length;
    showChanges(screen, lastSeen, clock.now(), sent);

    const carried = countMarks(final);
    const segments = counts.segments
      .filter((s) => mapping.esps.some((e) => targets.get(e)?.some((t) => t.segment === s.segment)))
      .map((s) => ({
        segment: s.segment,
        local: s.members,
        esps: Object.fromEntries(
          mapping.esps.filter((e) => targets.get(e)?.some((t) => t.segment === s.segment)).map((e) => [e, carried.get(s.segment)?.get(e) ?? 0]),
        ),
      }));
    const outbox = counts.outbox.reduce((n, o) => n + o.pending, 0);
    const failed = counts.outbox.reduce((n, o) => n + o.dead, 0);
    screen.line(`\n${screen.style('bold', 'Pushed segments')}: members in segsync, and contacts carrying them in each sandbox`);
    screen.line(`  ${'segment'.padEnd(20)}${'segsync'.padStart(9)}${ESP_NAMES.map((e) => LABEL[e].padStart(11)).join('')}`);
    for (const s of segments)
      screen.line(
        `  ${s.segment.padEnd(20)}${String(s.local).padStart(9)}${ESP_NAMES.map((e) => (s.esps[e] === undefined ? '—' : String(s.esps[e])).padStart(11)).join('')}`,
      );
    screen.line(`  ${counts.contacts} contacts, ${counts.events.toLocaleString('en-US')} events stored; ${outbox} operations still queued, ${failed} failed.`);
    for (const line of differences(store, segments, final)) screen.line(screen.style('yellow', `  ${line}`));

    await daemon.stop();
    daemon = undefined;
    const reportDir = join(dir, 'preview');
    const readStore = openStore(config.store.path);
    try {
      // The shipped scenarios reach every branch; demo shoppers with the data the emails read join them.
      const templates = writeDemoTemplates(join(packageRoot(), 'templates'), join(dir, 'templates'), readStore, clock.now());
      const { entries, index } = previewFolder(templates, reportDir, {});
      if (existsSync(envSetting('SEGSYNC_CHROMIUM') ?? '/usr/bin/chromium')) await addThumbnails(templates, entries, index);
      else screen.line(screen.style('dim', 'No Chromium found (apt-get install chromium, or set SEGSYNC_CHROMIUM): the report index has no thumbnails.'));
      const full = entries.filter((e) => e.result && (({ reached, total }) => reached === total)(branchCoverage(e.result.matrix))).length;
      screen.line(
        `\nPreview report of ${entries.length} example templates over their scenarios and demo shoppers (${full} with every branch reached): ${screen.style('underline', index)}`,
      );
      return { contacts: counts.contacts, events: sent, changes, segments, outbox, failed, report: index, config: configFile };
    } finally {
      readStore.close();
    }
  } finally {
    await daemon?.stop();
    await Promise.all([...sandboxes.values()].map((s) => s.close()));
  }
}

/** Every stored segment answer, as one string: equal strings read at two moments mean no answer changed between them (a small demo store). */
function answersKey(store: Store): string {
  const parts: string[] = [];
  for (const [contactId, segment, raw, since] of store.scanSegmentStates()) parts.push(`${contactId}|${segment}|${raw}|${since}`);
  return parts.join('\n');
}

/** A line per segment and ESP whose count differs from segsync's, naming the contacts (a demo that disagrees says where). */
function differences(
  store: Store,
  segments: { segment: string; local: number; esps: Partial<Record<EspName, number>> }[],
  final: Map<EspName, Marks>,
): string[] {
  const differing = segments.filter((s) => Object.values(s.esps).some((n) => n !== s.local));
  if (!differing.length) return [];
  const wanted = new Set(differing.map((s) => s.segment));
  const memberIds = new Map<string, Set<number>>();
  for (const [contactId, segment, raw] of store.scanSegmentStates()) {
    if (!wanted.has(segment) || !isMemberJson(raw)) continue;
    memberIds.set(segment, (memberIds.get(segment) ?? new Set()).add(contactId));
  }
  const emails = new Map<number, string>();
  for (const [id, email] of store.scanContacts()) emails.set(id, email);
  const lines: string[] = [];
  for (const s of differing) {
    const members = new Set([...(memberIds.get(s.segment) ?? [])].map((id) => emails.get(id) ?? `contact ${id}`));
    for (const [esp, n] of Object.entries(s.esps) as [EspName, number][]) {
      if (n === s.local) continue;
      const { missing, extra } = markDifferences(members, s.segment, final.get(esp) ?? new Map());
      lines.push(
        `${s.segment} on ${LABEL[esp]}: ${n} against ${s.local} in segsync` +
          (missing.length ? `; not shown there: ${missing.join(', ')}` : '') +
          (extra.length ? `; shown there, not in segsync: ${extra.join(', ')}` : ''),
      );
    }
  }
  return lines;
}

/** Up to `n` changes, taken in turn from each segment (the ones reaching most ESPs first), so a burst of one kind does not hide the others. */
export function sampleChanges(seen: MarkChange[], n: number): MarkChange[] {
  const bySegment = new Map<string, MarkChange[]>();
  for (const c of seen) bySegment.set(c.segment, [...(bySegment.get(c.segment) ?? []), c]);
  const queues = [...bySegment.values()].sort((a, b) => Math.max(...b.map((c) => c.esps.length)) - Math.max(...a.map((c) => c.esps.length)));
  const out: MarkChange[] = [];
  for (let round = 0; out.length < n && queues.some((q) => q.length > round); round++) {
    for (const q of queues) if (q[round] && out.length < n) out.push(q[round]!);
  }
  return out;
}

function showChanges(screen: Screen, seen: MarkChange[], now: number, sent: number): void {
  const shown = sampleChanges(seen, 8);
  screen.line(screen.style('dim', `[${formatUtcMinute(now)}] ${sent.toLocaleString('en-US')} events sent, ${seen.length} segment changes in the sandboxes`));
  for (const c of shown) screen.line(`  ${describeChange(c, screen)}`);
  if (seen.length > shown.length) screen.line(screen.style('dim', `  … and ${seen.length - shown.length} more`));
}
