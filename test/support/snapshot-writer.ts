/**
 * A child process for the snapshot crash test: `node --require tsx/cjs test/support/snapshot-writer.ts
 * STORE CONFIG`. Saves the rules' event cache snapshot over and over, alternating between a snapshot
 * of every event and one of the first half (both valid for the store: the rest is read after it),
 * until it is killed, so a kill lands in the middle of a write.
 */
import { loadConfigFile } from '../../src/config/load';
import { ManualClock } from '../../src/model/clock';
import { SegmentEngine } from '../../src/rules/engine';
import { EventCache } from '../../src/rules/event-cache';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';

const [path, config] = process.argv.slice(2) as [string, string];
const store = new SqliteStore({ path });
const engine = SegmentEngine.fromConfig(loadConfigFile(config, { secrets: { connectors: false, daemon: false } }), store, new ManualClock(0));
const plan = engine.rules.plan;
const layout = EventCache.layoutOf(plan);
const all = store.eventCountBound();
const snapshots = [all, Math.floor(all / 2)].map((through) => ({ through, parts: EventCache.load(store, plan, undefined, through).serialize() }));
process.stdout.write('writing\n');
for (let i = 0; i < 1_000_000; i++) {
  const s = snapshots[i % 2]!;
  store.writeEventCache(layout, s.through, s.parts);
}
store.close();
