/**
 * CLI start: the wall time of `segsync --help`, `segsync status` and `segsync segments --contact X`
 * on a small store (200 contacts, 2,000 events, 3 segments), as a user runs them (`node
 * bin/segsync.js …`, from the compiled build), each beside a bare `node -e 0` measured in the same
 * rounds: the commands and the reference take turns, so load from other processes on the machine
 * falls on both alike. Prints each median, its ratio to the reference (target ≤ 2.5×) and each
 * command's peak RSS. Rounds: SEGSYNC_BENCH_CLI_ROUNDS (default 15).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { machineLine, peakRssMiB } from './machine';

const BIN = resolve(__dirname, '../bin/segsync.js');
const TARGET = 2.5;

const CONFIG = `version: 1
segments:
  cart_abandoner:
    rule: none_within("Placed Order", 24h, "Added to Cart")
  repeat_buyer:
    rule: count("Placed Order", 180d) >= 2
  lifetime_value:
    type: value
    rule: sum("Placed Order", "value")
`;

interface Probe {
  label: string;
  args: string[];
}

/** One run's wall time in ms; throws when the command fails, so a broken CLI never looks fast. */
function timed(args: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Peak RSS of one run, MiB, reported by the child itself as it exits. */
function peakRss(args: string[], env: NodeJS.ProcessEnv, cwd: string, reporter: string): number {
  const r = spawnSync(process.execPath, ['--require', reporter, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  const m = /maxrss=(\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return Number(m[1]) / 1024;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Writes a small store through the CLI itself: contacts, events, one `segments` run. */
function fillStore(dir: string, env: NodeJS.ProcessEnv): void {
  const contacts: string[] = [];
  const events: string[] = [];
  const names = ['Viewed Product', 'Added to Cart', 'Placed Order'];
  for (let i = 0; i < 200; i++) contacts.push(JSON.stringify({ email: `user${i}@example.com`, properties: { first_name: `User ${i}` } }));
  for (let i = 0; i < 2_000; i++) {
    const name = names[i % names.length]!;
    events.push(
      JSON.stringify({
        id: `e${i}`,
        email: `user${i % 200}@example.com`,
        name,
        time: new Date(Date.now() - (i % 90) * 86_400_000).toISOString(),
        properties: { value: (i % 50) + 0.5 },
      }),
    );
  }
  writeFileSync(join(dir, 'contacts.jsonl'), `${contacts.join('\n')}\n`);
  writeFileSync(join(dir, 'events.jsonl'), `${events.join('\n')}\n`);
  timed([BIN, 'import', 'contacts', 'contacts.jsonl'], env, dir);
  timed([BIN, 'import', 'events', 'events.jsonl'], env, dir);
  timed([BIN, 'segments'], env, dir);
}

/** Runs the CLI start benchmark and prints its figures. */
export async function run(): Promise<void> {
  const rounds = Number(process.env.SEGSYNC_BENCH_CLI_ROUNDS ?? 15);
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-cli-'));
  try {
    writeFileSync(join(dir, 'segsync.yaml'), CONFIG);
    const reporter = join(dir, 'report-rss.js');
    writeFileSync(reporter, "process.on('exit', () => process.stderr.write(`maxrss=${process.resourceUsage().maxRSS}\\n`));\n");
    const env = { ...process.env, SEGSYNC_CONFIG: join(dir, 'segsync.yaml'), SEGSYNC_STORE: join(dir, 'segsync.db'), SEGSYNC_LOG_LEVEL: 'warn' };
    // The first call builds bin/segsync.js's compiled output when the sources changed; not measured.
    fillStore(dir, env);
    const reference: Probe = { label: 'node -e 0', args: ['-e', '0'] };
    const probes: Probe[] = [
      { label: 'segsync --help', args: [BIN, '--help'] },
      { label: 'segsync status', args: [BIN, 'status'] },
      { label: 'segsync segments --contact X', args: [BIN, 'segments', '--contact', 'user7@example.com'] },
    ];
    // Warm-up: disk cache, and each command's code cache (written by its first run).
    for (const p of [reference, ...probes]) timed(p.args, env, dir);
    const times = new Map<string, number[]>([reference, ...probes].map((p) => [p.label, []]));
    for (let r = 0; r < rounds; r++) for (const p of [reference, ...probes]) times.get(p.label)!.push(timed(p.args, env, dir));
    const base = median(times.get(reference.label)!);
    console.log('== bench: CLI start (wall time from spawn to exit, compiled build, small store: 200 contacts, 2,000 events, 3 segments)');
    console.log(machineLine());
    console.log(`${rounds} rounds, each command beside the reference in the same round; medians`);
    console.log(
      `  ${reference.label.padEnd(30)} ${base.toFixed(0).padStart(5)} ms   peak RSS ${peakRss(reference.args, env, dir, reporter).toFixed(0)} MiB (the reference)`,
    );
    let worst = 0;
    for (const p of probes) {
      const m = median(times.get(p.label)!);
      const ratio = m / base;
      worst = Math.max(worst, ratio);
      console.log(
        `  ${p.label.padEnd(30)} ${m.toFixed(0).padStart(5)} ms   ${ratio.toFixed(2)}× node -e 0   peak RSS ${peakRss(p.args, env, dir, reporter).toFixed(0)} MiB`,
      );
    }
    console.log(`worst ${worst.toFixed(2)}× a bare node start   target ≤ ${TARGET}×  ${worst <= TARGET ? 'OK' : 'MISSED'}`);
    console.log(`peak RSS of the bench process: ${peakRssMiB().toFixed(0)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
