/**
 * Runs in a rules worker thread: compiles the same rule set as the main thread, reads the shared
 * event columns in place, follows the main thread's changes to the contacts of its range, and sweeps
 * that range on request (see sweep-pool.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { AnswerTable } from './answer-table';
import { ContactCache } from './contact-cache';
import { EventCache } from './event-cache';
import { RuleSet } from './ruleset';
import type { CompileMessage, InitMessage, SweepDelta, SweepMessage, WorkerReply } from './sweep-pool';
import { sweepRange } from './sweep';

interface State {
  rules: RuleSet;
  events: EventCache;
  contacts: ContactCache;
  prev: AnswerTable;
  lo: number;
  hi: number;
}

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
let compiled: RuleSet | undefined;
let state: State | undefined;

function reply(r: WorkerReply): void {
  port.postMessage(r);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function init(msg: InitMessage): State {
  const rules = compiled!;
  const plan = rules.plan;
  if (JSON.stringify(plan.specs) !== msg.specs) throw new Error('the rules compiled differently in the worker');
  // The shared columns hold the main plan's codes: the same compile gives the same codes to every
  // name and value the rules read; anything else would read wrong columns, so it stops here.
  plan.names.forEach((name, code) => {
    if (msg.names[code] !== name) throw new Error(`event name codes differ at ${code}: ${name} vs ${msg.names[code]}`);
  });
  for (const name of msg.names) plan.nameCode(name);
  msg.dictionaries.forEach((entries, c) => {
    for (const [key, code] of entries) {
      if (plan.encodeKey(c, key) !== code) throw new Error(`filtered value codes differ for ${key}`);
    }
  });
  const prev = AnswerTable.fromDump(msg.answers);
  if (!prev) throw new Error('the stored answers of this range did not fit together');
  return {
    rules,
    events: EventCache.fromColumns(plan, msg.base, msg.offsets),
    contacts: new ContactCache(rules.needs.properties, rules.needs.email),
    prev,
    lo: msg.lo,
    hi: msg.hi,
  };
}

function apply(s: State, delta: SweepDelta): void {
  s.contacts.import(delta.contacts);
  for (const [id, cols] of delta.overrides) s.events.setOverride(id, cols);
  delta.prev.forEach((column, i) => {
    delta.contacts.ids.forEach((id, k) => s.prev.set(i, id, column[k]));
  });
}

parentPort!.on('message', (msg: CompileMessage | InitMessage | SweepMessage) => {
  try {
    if (msg.type === 'compile') {
      compiled = RuleSet.fromOrigin(msg.origin);
      return;
    }
    if (msg.type === 'init') {
      state = init(msg);
      reply({ type: 'ready' });
      return;
    }
    const s = state!;
    apply(s, msg.delta);
    const part = msg.sweep && sweepRange(s.rules, s.contacts, s.events, s.prev, s.lo, s.hi, msg.sweep.now, msg.sweep.save);
    reply({ type: 'part', part });
  } catch (err) {
    reply({ type: 'error', message: (err as Error).message, stack: (err as Error).stack });
  }
});
