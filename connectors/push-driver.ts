/**
 * The push pipeline every connector shares (a template method, in spirit): prepare → encode each
 * change → merge the changes of one contact → the vendor's own writes → echo → memberships → consent
 * → one result per input, in input order. The bookkeeping lives here once: which inputs a write stands
 * for, what a failure at each phase means, that memberships and consent only follow a write that
 * succeeded, and that an input no phase confirmed comes back as a retry (never as ok, never missing).
 * A vendor supplies the small steps as a `PushStrategy`.
 */
import { EspTransientError } from '../src/errors';
import type { ChangeResult, ContactChange } from './connector';
import { definedOnly } from './defined';
import { outcomeOfError } from './outcome';
import type { Outcome } from './outcome';

/** What a successful write reports, besides its status. */
export type Confirmed = Omit<Extract<Outcome, { status: 'ok' }>, 'status'>;

/** One contact's write: the inputs it stands for, the vendor's planned item, and how it ended. */
export interface PushUnit<P, A = unknown> {
  /** Positions in the input batch, in order (several when the batch names one contact twice). */
  inputs: number[];
  item: P;
  outcome?: Outcome;
  /** What the write learnt beyond the outcome (e.g. consent as answered), for the later phases. */
  answer?: A;
}

/** How a phase settles units. */
export interface PushIo<P, A = unknown> {
  /** The write succeeded (what `confirmed` leaves undefined, the answer did not say); never replaces an outcome already set (a failure stands). */
  ok(unit: PushUnit<P, A>, confirmed?: Confirmed, answer?: A): void;
  /** Adds what a later phase learnt to the unit's ok outcome (a failure stands). */
  learnt(unit: PushUnit<P, A>, confirmed: Confirmed): void;
  /** The unit (or each of the units) failed with `err`: retry or failed by the error's class (replaces an ok). */
  fail(unit: PushUnit<P, A> | PushUnit<P, A>[], err: unknown): void;
  /** Fails each of `units` for which `errorOf` names an error (e.g. a lookup in the failures a vendor call reported). */
  failEach(units: PushUnit<P, A>[], errorOf: (unit: PushUnit<P, A>) => unknown): void;
  /** The unit that stands for the input at `index` (for vendor code that speaks in input positions). */
  unitOf(index: number): PushUnit<P, A>;
}

/** Merging of one contact's changes: the key that names the contact, and how a later item folds into an earlier one. */
export interface MergeRule<P> {
  key(item: P, change: ContactChange): string;
  merge(into: P, next: P): P;
}

/**
 * The merge of one contact's changes for a vendor that writes changes as they are, keyed by `key`: later
 * values win, a later value drops an earlier clear of its field, and a later tag change undoes an earlier opposite one.
 */
export function mergeChangesBy(key: (change: ContactChange) => string): MergeRule<ContactChange> {
  return {
    key,
    merge: (c, change) => ({
      ...c,
      ...change,
      set: { ...c.set, ...change.set },
      clear: [...c.clear.filter((f) => !(f in change.set)), ...change.clear],
      addTags: [...c.addTags.filter((t) => !change.removeTags.includes(t)), ...change.addTags],
      removeTags: [...c.removeTags.filter((t) => !change.addTags.includes(t)), ...change.removeTags],
    }),
  };
}

/** A vendor's steps; each one optional but `encode` and `write`. */
export interface PushStrategy<P, A = unknown> {
  esp: string;
  /** Reads what encoding needs; a throw fails the whole batch; per-input errors fail the unit holding that input. */
  prepare?(batch: ContactChange[]): Promise<Map<number, unknown> | void>;
  /** One change as the vendor will send it; a throw fails that input alone. */
  encode(change: ContactChange, index: number): P;
  /** Absent: every input is its own unit. */
  merge?: MergeRule<P>;
  /** The vendor's routing and calls; a throw fails every unit it had not settled. */
  write(units: PushUnit<P, A>[], io: PushIo<P, A>, batch: ContactChange[]): Promise<void>;
  /** Records what was written (units that succeeded) so the ESP's echoes of it are recognised. */
  echo?(units: PushUnit<P, A>[]): void;
  /** List or tag membership for the units whose write succeeded. */
  memberships?(units: PushUnit<P, A>[], io: PushIo<P, A>): Promise<void>;
  /** Consent for the units still ok after memberships. */
  consent?(units: PushUnit<P, A>[], io: PushIo<P, A>): Promise<void>;
}

/** The ESP's id the unit's write confirmed, if it did (an empty id counts as none). */
export function confirmedId(unit: PushUnit<unknown, unknown>): string | undefined {
  return (unit.outcome?.status === 'ok' ? unit.outcome.externalId : undefined) || undefined;
}

/** Groups encoded inputs into units: one per input, or one per contact under `rule` (later items fold into the first). */
export function mergeUnits<P, A = unknown>(encoded: { index: number; item: P; change: ContactChange }[], rule: MergeRule<P> | undefined): PushUnit<P, A>[] {
  if (!rule) return encoded.map((e) => ({ inputs: [e.index], item: e.item }));
  const byKey = new Map<string, PushUnit<P, A>>();
  for (const e of encoded) {
    const key = rule.key(e.item, e.change);
    const seen = byKey.get(key);
    if (seen) {
      seen.item = rule.merge(seen.item, e.item);
      seen.inputs.push(e.index);
    } else byKey.set(key, { inputs: [e.index], item: e.item });
  }
  return [...byKey.values()];
}

/** Runs one batch through `strategy`; one result per input, in input order. */
export async function runPush<P, A>(strategy: PushStrategy<P, A>, batch: ContactChange[]): Promise<ChangeResult[]> {
  if (batch.length === 0) return [];
  const { esp } = strategy;
  const results: (ChangeResult | undefined)[] = new Array(batch.length).fill(undefined);
  const io: PushIo<P, A> = {
    ok: (unit, confirmed = {}, answer) => {
      if (unit.outcome) return;
      unit.outcome = { status: 'ok', ...definedOnly(confirmed) };
      if (answer !== undefined) unit.answer = answer;
    },
    learnt: (unit, confirmed) => {
      if (unit.outcome?.status === 'ok') unit.outcome = { ...unit.outcome, ...definedOnly(confirmed) };
    },
    fail: (unit, err) => {
      for (const u of Array.isArray(unit) ? unit : [unit]) u.outcome = outcomeOfError(err, esp);
    },
    failEach: (units, errorOf) => {
      for (const unit of units) {
        const err = errorOf(unit);
        if (err !== undefined) io.fail(unit, err);
      }
    },
    unitOf: (index) => unitAt.get(index)!,
  };
  const unitAt = new Map<number, PushUnit<P, A>>();
  let poisoned: Map<number, unknown> | void;
  try {
    poisoned = await strategy.prepare?.(batch);
  } catch (err) {
    return batch.map((c) => ({ ref: c.ref, ...outcomeOfError(err, esp) }));
  }
  const encoded: { index: number; item: P; change: ContactChange }[] = [];
  batch.forEach((change, index) => {
    try {
      encoded.push({ index, item: strategy.encode(change, index), change });
    } catch (err) {
      results[index] = { ref: change.ref, ...outcomeOfError(err, esp) };
    }
  });
  const units = mergeUnits<P, A>(encoded, strategy.merge);
  for (const unit of units) for (const i of unit.inputs) unitAt.set(i, unit);
  for (const unit of units) {
    const err = unit.inputs.map((i) => poisoned?.get(i)).find((e) => e !== undefined);
    if (err !== undefined) io.fail(unit, err);
  }
  await phase(
    units.filter((u) => !u.outcome),
    (todo) => strategy.write(todo, io, batch),
    io,
    'unsettled',
  );
  const succeeded = (): PushUnit<P, A>[] => units.filter((u) => u.outcome?.status === 'ok');
  strategy.echo?.(succeeded());
  if (strategy.memberships) await phase(succeeded(), (todo) => strategy.memberships!(todo, io), io, 'ok');
  if (strategy.consent) await phase(succeeded(), (todo) => strategy.consent!(todo, io), io, 'ok');
  for (const unit of units) {
    const outcome = unit.outcome ?? {
      status: 'retry',
      error: new EspTransientError(`${esp}: no answer confirmed this contact's write`, { esp, hint: 'segsync sends it again later' }),
    };
    for (const i of unit.inputs) results[i] = { ref: batch[i]!.ref, ...outcome };
  }
  // Every input is now either refused by `encode` or stands in exactly one unit.
  return results as ChangeResult[];
}

/**
 * Runs one phase over `units`; a throw fails the units the write had not settled, or that a later phase
 * still holds as ok: an answer never confirmed is never reported as done.
 */
async function phase<P, A>(
  units: PushUnit<P, A>[],
  run: (units: PushUnit<P, A>[]) => Promise<void>,
  io: PushIo<P, A>,
  failing: 'unsettled' | 'ok',
): Promise<void> {
  if (units.length === 0) return;
  try {
    await run(units);
  } catch (err) {
    for (const u of units) if (failing === 'unsettled' ? !u.outcome : u.outcome?.status === 'ok') io.fail(u, err);
  }
}
