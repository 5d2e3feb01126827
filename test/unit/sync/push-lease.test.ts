/**
 * The push lease (src/sync/push-lease.ts): who may take an ESP's lease from whom, on two connections
 * to one store file as two processes would hold them, and the renewal that keeps a live holder's lease.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { PushLease } from '../../../src/store/store';
import { PushLeases, STALE_MS, describeHolder, holderGone, thisProcess } from '../../../src/sync/push-lease';
import type { LeaseHolder } from '../../../src/sync/push-lease';

/** A pid that ran and has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

const T0 = Date.UTC(2026, 11, 1);
const lease = (holder: LeaseHolder, renewedAt = T0): PushLease => ({ ...holder, esp: 'hubspot', renewedAt });

describe('holderGone', () => {
  const me: LeaseHolder = { owner: 'here/100/a', pid: 100, host: 'here', command: 'push' };
  const alive = (): boolean => true;
  const dead = (): boolean => false;

  it('keeps a live holder on this host, and one on another host that renewed within STALE_MS', () => {
    expect(holderGone(lease({ owner: 'here/200/b', pid: 200, host: 'here', command: 'daemon' }), me, T0 + 5_000, alive)).toBe(false);
    expect(holderGone(lease({ owner: 'there/200/b', pid: 200, host: 'there', command: 'daemon' }), me, T0 + STALE_MS, dead)).toBe(false);
  });

  it('frees a lease whose holder on this host no longer runs, or is an earlier run of our own pid, or went silent', () => {
    expect(holderGone(lease({ owner: 'here/200/b', pid: 200, host: 'here', command: 'daemon' }), me, T0, dead)).toBe(true);
    expect(holderGone(lease({ owner: 'here/100/old', pid: 100, host: 'here', command: 'daemon' }), me, T0, alive)).toBe(true);
    expect(holderGone(lease({ owner: 'there/200/b', pid: 200, host: 'there', command: 'daemon' }), me, T0 + STALE_MS + 1, alive)).toBe(true);
    expect(holderGone(lease({ owner: 'here/200/b', pid: 200, host: 'here', command: 'daemon' }), me, T0 + STALE_MS + 1, alive)).toBe(true);
  });

  it('names the holder as a person reads it', () => {
    expect(describeHolder(lease({ owner: 'x', pid: 7, host: hostname(), command: 'daemon' }))).toBe('the daemon (pid 7)');
    expect(describeHolder(lease({ owner: 'x', pid: 8, host: 'box-b', command: 'push' }))).toBe('`segsync push` (pid 8 on host box-b)');
  });
});

describe('PushLeases on one store from two processes', () => {
  let dir: string;
  let a: SqliteStore;
  let b: SqliteStore;
  let clock: ManualClock;
  let logged: string;
  const logger = createLogger({
    level: 'warn',
    format: 'json',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    }),
  });
  /** The other process: the parent of this one, which runs as long as the test does. */
  const other: LeaseHolder = { owner: `${hostname()}/${process.ppid}/other`, pid: process.ppid, host: hostname(), command: 'daemon' };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-lease-'));
    a = new SqliteStore({ path: join(dir, 'store.db') });
    b = new SqliteStore({ path: join(dir, 'store.db') });
    clock = new ManualClock(T0);
    logged = '';
  });
  afterEach(() => {
    jest.useRealTimers();
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the lease while its live holder has it, lets nobody else claim, and hands it over at release', () => {
    const theirs = new PushLeases(a, clock, logger, other);
    const mine = new PushLeases(b, clock, logger, thisProcess('push'));
    expect(theirs.take('hubspot')).toBeUndefined();
    expect(mine.take('hubspot')).toMatchObject({ owner: other.owner, pid: process.ppid, command: 'daemon' });
    expect(mine.mayClaim('hubspot')).toBe(false);
    expect(theirs.mayClaim('hubspot')).toBe(true);
    // Each ESP has a lease of its own.
    expect(mine.take('mailchimp')).toBeUndefined();
    theirs.release();
    expect(a.pushLease('hubspot')).toBeUndefined();
    expect(mine.take('hubspot')).toBeUndefined();
    expect(b.pushLease('hubspot')).toMatchObject({ owner: thisProcess('push').owner, pid: process.pid, renewedAt: T0 });
    mine.release();
  });

  it('takes a lease at once from a holder on this host that no longer runs', () => {
    const gone: LeaseHolder = { owner: 'crashed', pid: deadPid(), host: hostname(), command: 'push' };
    expect(new PushLeases(a, clock, logger, gone).take('hubspot')).toBeUndefined();
    const mine = new PushLeases(b, clock, logger, thisProcess('daemon'));
    expect(mine.take('hubspot')).toBeUndefined();
    expect(b.pushLease('hubspot')?.owner).toBe(thisProcess('daemon').owner);
    mine.release();
  });

  it('renews again after another process held the store’s write lock through one renewal (an import)', async () => {
    // Only the renewal's interval is faked: the manual clock wakes its sleepers through the real event loop.
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'nextTick', 'queueMicrotask', 'Date'] });
    const mine = new PushLeases(a, clock, logger, thisProcess('daemon'));
    expect(mine.take('hubspot')).toBeUndefined();
    a.db.pragma('busy_timeout = 20');
    b.db.exec('BEGIN IMMEDIATE');
    await clock.advance(10_000);
    jest.advanceTimersByTime(10_000);
    b.db.exec('COMMIT');
    await clock.advance(10_000);
    jest.advanceTimersByTime(10_000);
    expect(b.pushLease('hubspot')?.renewedAt).toBe(T0 + 20_000);
    expect(logged).toBe('');
    mine.release();
  });

  it('keeps a live holder’s lease by renewing it, and one that stopped renewing is taken over and told so', async () => {
    // Only the renewal's interval is faked: the manual clock wakes its sleepers through the real event loop.
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'nextTick', 'queueMicrotask', 'Date'] });
    const elsewhere: LeaseHolder = { ...other, host: 'box-b', owner: 'box-b/4242/x' };
    const theirs = new PushLeases(a, clock, logger, elsewhere);
    const mine = new PushLeases(b, clock, logger, thisProcess('push'));
    expect(theirs.take('hubspot')).toBeUndefined();
    // Without the renewal, 200 s would be past STALE_MS; renewed every 10 s, it never is.
    for (let t = 0; t < 20; t++) {
      await clock.advance(10_000);
      jest.advanceTimersByTime(10_000);
    }
    expect(mine.take('hubspot')?.owner).toBe(elsewhere.owner);
    expect(a.pushLease('hubspot')?.renewedAt).toBe(T0 + 200_000);
    // Its event loop stalls past STALE_MS: the lease is free, and the stalled holder learns it lost it.
    await clock.advance(STALE_MS + 1);
    expect(mine.take('hubspot')).toBeUndefined();
    expect(theirs.mayClaim('hubspot')).toBe(false);
    jest.advanceTimersByTime(10_000);
    expect(logged).toMatch('hubspot: `segsync push` (pid');
    expect(logged).toMatch('took over sending this ESP');
    theirs.release();
    expect(b.pushLease('hubspot')?.owner).toBe(thisProcess('push').owner);
    mine.release();
  });
});
