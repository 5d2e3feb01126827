import { EspRateLimitError } from '../../../src/errors';
import { ManualClock } from '../../../src/model/clock';
import { RateLimiter, minimumDurationMs } from '../../../connectors/ratelimit';

function startTimes(clock: ManualClock): { log: number[]; call: () => Promise<void> } {
  const log: number[] = [];
  return { log, call: async () => void log.push(clock.now()) };
}

async function drain(clock: ManualClock, done: () => boolean, stepMs = 100, maxSteps = 10_000): Promise<void> {
  await clock.advance(0);
  for (let i = 0; i < maxSteps && !done(); i++) await clock.advance(stepMs);
}

describe('RateLimiter', () => {
  it('keeps a rolling window: never more than `limit` calls in any windowMs', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ windows: { burst: { limit: 3, windowMs: 10_000 } }, buckets: { default: ['burst'] }, maxConcurrency: 10 }, clock);
    const { log, call } = startTimes(clock);
    const all = Promise.all(Array.from({ length: 7 }, () => limiter.run('default', call)));
    let finished = false;
    void all.then(() => (finished = true));
    await drain(clock, () => finished);
    await all;
    expect(log).toEqual([0, 0, 0, 10_000, 10_000, 10_000, 20_000]);
  });

  it('counts fixed windows from their aligned start, as Klaviyo does', async () => {
    const clock = new ManualClock(500);
    const limiter = new RateLimiter({ windows: { s: { limit: 2, windowMs: 1000, kind: 'fixed' } }, buckets: { b: ['s'] }, maxConcurrency: 10 }, clock);
    const { log, call } = startTimes(clock);
    const all = Promise.all(Array.from({ length: 5 }, () => limiter.run('b', call)));
    let finished = false;
    void all.then(() => (finished = true));
    await drain(clock, () => finished, 50);
    expect(log).toEqual([500, 500, 1000, 1000, 2000]);
  });

  it('draws from every window of a bucket (burst and daily), and buckets share windows', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter(
      {
        windows: { burst: { limit: 10, windowMs: 1000 }, daily: { limit: 3, windowMs: 86_400_000 }, search: { limit: 10, windowMs: 1000 } },
        buckets: { default: ['burst', 'daily'], search: ['search', 'daily'] },
        maxConcurrency: 5,
      },
      clock,
    );
    await limiter.run('default', async () => undefined);
    await limiter.run('search', async () => undefined);
    await limiter.run('default', async () => undefined);
    expect(limiter.waitFor('search')).toBe(86_400_000);
    await expect(limiter.run('default', async () => undefined, { maxWaitMs: 60_000 })).rejects.toBeInstanceOf(EspRateLimitError);
  });

  it('hands a freed slot to a call of another bucket when the call it woke must wait for its own paused window', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter(
      { windows: { a: { limit: 100, windowMs: 1000 }, b: { limit: 100, windowMs: 1000 } }, buckets: { A: ['a'], B: ['b'] }, maxConcurrency: 1 },
      clock,
    );
    let finish!: () => void;
    const holding = limiter.run('A', () => new Promise<void>((r) => (finish = r)));
    await clock.advance(0);
    const started: Record<string, number> = {};
    const sameBucket = limiter.run('A', async () => void (started.A = clock.now()));
    const otherBucket = limiter.run('B', async () => void (started.B = clock.now()));
    await clock.advance(0);
    limiter.pause('a', 60_000);
    finish();
    await holding;
    await clock.advance(0);
    expect(started).toEqual({ B: 0 });
    await clock.advance(60_000);
    await Promise.all([sameBucket, otherBucket]);
    expect(started).toEqual({ B: 0, A: 60_000 });
  });

  it('caps calls in flight at maxConcurrency', async () => {
    const limiter = new RateLimiter({ windows: { w: { limit: 1000, windowMs: 1000 } }, buckets: { b: ['w'] }, maxConcurrency: 3 });
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        limiter.run('b', async () => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('learns from refusals for too many connections before handing the slot on, and widens back one call at a time, 30 s apart', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ windows: { w: { limit: 10_000, windowMs: 1000 } }, buckets: { b: ['w'] }, maxConcurrency: 6 }, clock);
    // A vendor that refuses a call arriving beside `granted` others of ours, as Mailchimp does when
    // another tool holds the rest of the key's connections.
    let granted = 2;
    let inFlight = 0;
    let peak = 0;
    let refused = 0;
    // Refusals are answered at once, accepted calls later: each list is answered when the test says.
    const refusals: (() => void)[] = [];
    const release: (() => void)[] = [];
    const call = async (): Promise<void> => {
      if (inFlight >= granted) {
        await new Promise<void>((r) => refusals.push(r));
        refused++;
        throw new Error('429');
      }
      peak = Math.max(peak, ++inFlight);
      await new Promise<void>((r) => release.push(r));
      inFlight--;
    };
    const learn = { onFailure: (err: unknown, slot: { inFlight: number }) => (limiter.narrowConcurrency(slot.inFlight), err) };
    const burst = async (n: number): Promise<void> => {
      peak = 0;
      refused = 0;
      const all = Promise.allSettled(Array.from({ length: n }, () => limiter.run('b', call, learn)));
      let done = false;
      void all.then(() => (done = true));
      while (!done) {
        await clock.advance(0);
        refusals.splice(0).forEach((r) => r());
        await clock.advance(0);
        release.splice(0).forEach((r) => r());
      }
    };
    await burst(8);
    // Six sent at once, four refused; the two calls waiting for a slot never went out beside them.
    expect(refused).toBe(4);
    expect(limiter.stats().concurrency).toBe(2);
    await burst(9);
    expect([peak, refused]).toEqual([2, 0]);
    await clock.advance(29_999);
    await burst(4);
    expect(limiter.stats().concurrency).toBe(2);
    await clock.advance(1);
    await burst(1);
    expect(limiter.stats().concurrency).toBe(3);
    // The probe finds the connections still held: one refusal, back to two, and the next probe waits 30 s.
    await burst(6);
    expect([refused, limiter.stats().concurrency]).toEqual([1, 2]);
    await clock.advance(20_000);
    await burst(4);
    expect(limiter.stats().concurrency).toBe(2);
    granted = 6;
    for (let i = 0; i < 10; i++) {
      await clock.advance(30_000);
      await burst(1);
    }
    expect(limiter.stats().concurrency).toBe(6);
    await burst(12);
    expect([peak, refused]).toEqual([6, 0]);
    // A failure that was no call of ours (the limiter's own wait) teaches nothing.
    limiter.narrowConcurrency(0);
    expect(limiter.stats().concurrency).toBe(6);
  });

  it('holds a bucket after a 429 until Retry-After has passed', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ windows: { w: { limit: 100, windowMs: 1000 } }, buckets: { b: ['w'] }, maxConcurrency: 5 }, clock);
    limiter.pause('b', 2500);
    const { log, call } = startTimes(clock);
    const p = limiter.run('b', call);
    await drain(clock, () => log.length > 0, 100);
    await p;
    expect(log).toEqual([2500]);
  });

  it('holds a call that waited for a free slot when the call that held it was refused and paused the bucket', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ windows: { w: { limit: 100, windowMs: 1000 } }, buckets: { b: ['w'] }, maxConcurrency: 1 }, clock);
    let refuse!: () => void;
    const refused = limiter.run('b', () => new Promise<void>((_, reject) => (refuse = () => reject(new Error('429')))), {
      onFailure: (err) => (limiter.pause('b', 2000), err),
    });
    const { log, call } = startTimes(clock);
    const waiting = limiter.run('b', call);
    // The second call passed the window and waits for the only slot.
    await clock.advance(0);
    refuse();
    await expect(refused).rejects.toThrow('429');
    await drain(clock, () => log.length > 0, 100);
    await waiting;
    expect(log).toEqual([2000]);
  });

  it('holds a window when the vendor says none remain', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ windows: { w: { limit: 100, windowMs: 10_000 } }, buckets: { b: ['w'] }, maxConcurrency: 5 }, clock);
    limiter.observeRemaining('w', 5, 4000);
    expect(limiter.waitFor('b')).toBe(0);
    limiter.observeRemaining('w', 0, 4000);
    expect(limiter.waitFor('b')).toBe(4000);
  });

  it('rejects limits that name unknown windows', () => {
    expect(() => new RateLimiter({ windows: {}, buckets: { b: ['nope'] }, maxConcurrency: 1 })).toThrow(/unknown window/);
  });

  it('computes the least time a run of calls needs', () => {
    expect(minimumDurationMs(100, [{ limit: 100, windowMs: 10_000 }])).toBe(0);
    expect(minimumDurationMs(101, [{ limit: 100, windowMs: 10_000 }])).toBe(10_000);
    expect(
      minimumDurationMs(250, [
        { limit: 100, windowMs: 10_000 },
        { limit: 1000, windowMs: 1000 },
      ]),
    ).toBe(20_000);
  });
});
