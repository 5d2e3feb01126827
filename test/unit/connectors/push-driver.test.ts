import { EspPermanentError, EspRateLimitError, EspTransientError, ValidationError } from '../../../src/errors';
import type { ContactChange } from '../../../connectors/connector';
import { mergeChangesBy, mergeUnits, runPush } from '../../../connectors/push-driver';
import type { MergeRule, PushStrategy, PushUnit } from '../../../connectors/push-driver';

function change(email: string, set: Record<string, string> = {}, tags: string[] = []): ContactChange {
  return { ref: { email }, set, clear: [], addTags: tags, removeTags: [] };
}

interface Item {
  email: string;
  set: Record<string, string>;
  tags: string[];
}

const byEmail: MergeRule<Item> = {
  key: (item) => item.email,
  merge: (into, next) => ({ email: into.email, set: { ...into.set, ...next.set }, tags: [...into.tags, ...next.tags] }),
};

/** A strategy that writes every unit ok unless told otherwise, and records what each phase saw. */
function recording(overrides: Partial<PushStrategy<Item, string>> = {}): { strategy: PushStrategy<Item, string>; seen: Record<string, Item[][]> } {
  const seen: Record<string, Item[][]> = { write: [], echo: [], memberships: [], consent: [] };
  const strategy: PushStrategy<Item, string> = {
    esp: 'fake',
    encode: (c) => {
      if (c.set.bad !== undefined) throw new ValidationError(`fake: bad value for ${c.ref.email}`);
      return { email: c.ref.email, set: { ...(c.set as Record<string, string>) }, tags: [...c.addTags] };
    },
    merge: byEmail,
    write: async (units, io) => {
      seen.write!.push(units.map((u) => u.item));
      for (const u of units) io.ok(u, { externalId: `id-${u.item.email}` }, `answer-${u.item.email}`);
    },
    echo: (units) => void seen.echo!.push(units.map((u) => u.item)),
    memberships: async (units) => void seen.memberships!.push(units.map((u) => u.item)),
    consent: async (units) => void seen.consent!.push(units.map((u) => u.item)),
    ...overrides,
  };
  return { strategy, seen };
}

describe('runPush', () => {
  it('answers one result per input, in input order, with each input its own ref', async () => {
    const { strategy } = recording();
    const batch = [change('a@x.io'), change('b@x.io'), change('c@x.io')];
    const results = await runPush(strategy, batch);
    expect(results.map((r) => [r.ref.email, r.status, r.status === 'ok' ? r.externalId : undefined])).toEqual([
      ['a@x.io', 'ok', 'id-a@x.io'],
      ['b@x.io', 'ok', 'id-b@x.io'],
      ['c@x.io', 'ok', 'id-c@x.io'],
    ]);
    expect(await runPush(strategy, [])).toEqual([]);
  });

  it('merges one contact named twice into one write whose result both inputs share', async () => {
    const { strategy, seen } = recording();
    const batch = [change('a@x.io', { n: '1', m: '1' }, ['t1']), change('b@x.io'), change('a@x.io', { n: '2' }, ['t2'])];
    const results = await runPush(strategy, batch);
    expect(seen.write).toEqual([
      [
        { email: 'a@x.io', set: { n: '2', m: '1' }, tags: ['t1', 't2'] },
        { email: 'b@x.io', set: {}, tags: [] },
      ],
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(results[2]).toMatchObject({ ref: { email: 'a@x.io' }, externalId: 'id-a@x.io' });
  });

  it('fails an input encode refuses on its own, as failed, and writes the rest', async () => {
    const { strategy, seen } = recording();
    const results = await runPush(strategy, [change('a@x.io', { bad: '1' }), change('b@x.io')]);
    expect(results[0]).toMatchObject({ status: 'failed' });
    expect((results[0] as { error: Error }).error).toBeInstanceOf(ValidationError);
    expect(results[1]).toMatchObject({ status: 'ok' });
    expect(seen.write).toEqual([[{ email: 'b@x.io', set: {}, tags: [] }]]);
  });

  it('fills a unit no answer confirmed as a retry, never as ok', async () => {
    const { strategy, seen } = recording({
      write: async (units, io) => {
        io.ok(units[0]!);
      },
    });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io')]);
    expect(results[0]).toMatchObject({ status: 'ok' });
    expect(results[1]).toMatchObject({ status: 'retry' });
    expect((results[1] as { error: Error }).error).toBeInstanceOf(EspTransientError);
    // Memberships and consent only follow a write that succeeded.
    expect(seen.memberships).toEqual([[{ email: 'a@x.io', set: {}, tags: [] }]]);
  });

  it('fails every input, by the error class, when prepare throws; the rate limit travels', async () => {
    const write = jest.fn();
    const { strategy } = recording({
      prepare: async () => {
        throw new EspRateLimitError('fake: slow down', { esp: 'fake', retryAfterMs: 1234 });
      },
      write,
    });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io')]);
    expect(results.map((r) => r.status)).toEqual(['retry', 'retry']);
    expect(results[0]).toMatchObject({ retryAfterMs: 1234 });
    expect(write).not.toHaveBeenCalled();
  });

  it('fails a whole unit when prepare names one of its inputs, and leaves it unwritten', async () => {
    const { strategy, seen } = recording({ prepare: async () => new Map([[2, new ValidationError('fake: the rename was refused')]]) });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io'), change('a@x.io')]);
    expect(results.map((r) => r.status)).toEqual(['failed', 'ok', 'failed']);
    expect(seen.write).toEqual([[{ email: 'b@x.io', set: {}, tags: [] }]]);
  });

  it('fails only the unsettled units when the write throws', async () => {
    const { strategy } = recording({
      write: async (units, io) => {
        io.ok(units[0]!, { externalId: 'kept' });
        throw new EspTransientError('fake: connection reset', { esp: 'fake' });
      },
    });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io')]);
    expect(results[0]).toMatchObject({ status: 'ok', externalId: 'kept' });
    expect(results[1]).toMatchObject({ status: 'retry' });
  });

  it('never lets a late ok replace a failure the write already reported', async () => {
    const { strategy } = recording({
      write: async (units, io) => {
        io.fail(units[0]!, new EspPermanentError('fake: refused', { esp: 'fake', status: 400 }));
        io.ok(units[0]!, { externalId: 'late' });
      },
    });
    const [result] = await runPush(strategy, [change('a@x.io')]);
    expect(result).toMatchObject({ status: 'failed' });
  });

  it('skips consent for a contact whose membership failed, and keeps the membership error', async () => {
    const { strategy, seen } = recording({
      memberships: async (units, io) => {
        for (const u of units) if (u.item.email === 'a@x.io') io.fail(u, new EspTransientError('fake: list busy', { esp: 'fake' }));
      },
    });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io')]);
    expect(results.map((r) => r.status)).toEqual(['retry', 'ok']);
    expect(seen.consent).toEqual([[{ email: 'b@x.io', set: {}, tags: [] }]]);
  });

  it('turns a consent phase that throws into a failure of the contacts it held, never an ok', async () => {
    const { strategy } = recording({
      consent: async () => {
        throw new Error('socket hang up');
      },
    });
    const results = await runPush(strategy, [change('a@x.io')]);
    expect(results[0]).toMatchObject({ status: 'retry' });
    expect((results[0] as { error: Error }).error.message).toContain('socket hang up');
  });

  it('hands the answer a write learnt to the later phases, and records echoes of successful writes only', async () => {
    const answers: (string | undefined)[] = [];
    const { strategy, seen } = recording({
      write: async (units, io) => {
        io.ok(units[0]!, {}, 'learnt');
        io.fail(units[1]!, new EspPermanentError('fake: refused', { esp: 'fake', status: 400 }));
      },
      consent: async (units: PushUnit<Item, string>[]) => void answers.push(...units.map((u) => u.answer)),
    });
    await runPush(strategy, [change('a@x.io'), change('b@x.io')]);
    expect(answers).toEqual(['learnt']);
    expect(seen.echo).toEqual([[{ email: 'a@x.io', set: {}, tags: [] }]]);
  });
});

describe('mergeUnits', () => {
  it('keeps one unit per input without a rule, and groups by key in first-seen order with one', () => {
    const encoded = ['a', 'b', 'a'].map((email, index) => ({ index, item: { email, set: {}, tags: [String(index)] }, change: change(email) }));
    expect(mergeUnits(encoded, undefined).map((u) => u.inputs)).toEqual([[0], [1], [2]]);
    expect(mergeUnits(encoded, byEmail).map((u) => [u.inputs, u.item.tags])).toEqual([
      [
        [0, 2],
        ['0', '2'],
      ],
      [[1], ['1']],
    ]);
  });
});

describe('PushIo.unitOf', () => {
  it('finds the unit of any input, merged or not', async () => {
    const { strategy } = recording({
      write: async (units, io) => {
        io.ok(io.unitOf(2), { externalId: 'by-index' });
        io.fail(io.unitOf(1), new EspPermanentError('fake: refused', { esp: 'fake', status: 400 }));
      },
    });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io'), change('a@x.io')]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
    expect(results[0]).toMatchObject({ externalId: 'by-index' });
  });
});

describe('PushIo settling many units', () => {
  it('leaves out what an ok did not learn, so a result never carries a key set to undefined', async () => {
    const { strategy } = recording({
      write: async (units, io) => units.forEach((u) => io.ok(u, { externalId: 'id-1', created: undefined, modifiedAt: undefined, consent: 'subscribed' })),
    });
    const [result] = await runPush(strategy, [change('a@x.io')]);
    expect(Object.keys(result!).sort()).toEqual(['consent', 'externalId', 'ref', 'status']);
  });

  it('fails several units with one error, and each unit its own error from a lookup (none where the lookup finds none)', async () => {
    const slow = new EspRateLimitError('fake: slow down', { esp: 'fake', retryAfterMs: 2_000 });
    const bad = new EspPermanentError('fake: refused', { esp: 'fake', status: 400 });
    const { strategy } = recording({
      write: async (units, io) => {
        units.forEach((u) => io.ok(u));
        io.fail(units.slice(0, 2), slow);
      },
      memberships: async (units, io) => io.failEach(units, (u) => (u.item.email === 'c@x.io' ? bad : undefined)),
    });
    const results = await runPush(strategy, [change('a@x.io'), change('b@x.io'), change('c@x.io'), change('d@x.io')]);
    expect(results.map((r) => [r.status, r.status === 'retry' ? r.retryAfterMs : undefined])).toEqual([
      ['retry', 2_000],
      ['retry', 2_000],
      ['failed', undefined],
      ['ok', undefined],
    ]);
  });
});

describe('mergeChangesBy', () => {
  it('folds a later change into an earlier one of the same contact: later values win, a set drops an earlier clear, tag changes undo opposite ones', () => {
    const rule = mergeChangesBy((c) => c.ref.email.toLowerCase());
    const first: ContactChange = { ref: { email: 'A@x.io' }, set: { n: '1', m: '1' }, clear: ['city', 'zip'], addTags: ['vip', 'new'], removeTags: ['old'] };
    const later: ContactChange = {
      ref: { email: 'a@x.io' },
      set: { n: '2', city: 'Oslo' },
      clear: ['m'],
      addTags: ['old'],
      removeTags: ['new'],
      optOut: { at: 5 },
    };
    expect(rule.key(first, first)).toBe(rule.key(later, later));
    expect(rule.merge(first, later)).toEqual({
      ref: { email: 'a@x.io' },
      set: { n: '2', m: '1', city: 'Oslo' },
      clear: ['zip', 'm'],
      addTags: ['vip', 'old'],
      removeTags: ['new'],
      optOut: { at: 5 },
    });
  });
});
