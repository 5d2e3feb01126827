import { UnfinishedJobs } from '../../../../connectors/mailchimp/unfinished-jobs';
import { EspBusyError, EspPermanentError, EspTransientError } from '../../../../src/errors';
import type { Clock } from '../../../../src/model/clock';

/** Job statuses as Mailchimp would answer them, and the calls made. */
class Jobs {
  status = new Map<string, string | Error>();
  asked: string[] = [];
  async batchStatus(id: string): Promise<{ id: string; status: string }> {
    this.asked.push(id);
    const s = this.status.get(id);
    if (s instanceof Error) throw s;
    return { id, status: s ?? 'pending' };
  }
}

describe('Mailchimp batch jobs segsync stopped waiting for', () => {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async () => undefined };

  it('holds the members of a job not finished, asks nothing when none is noted, and lets go once it has finished', async () => {
    const jobs = new Jobs();
    const unfinished = new UnfinishedJobs(clock);
    expect(await unfinished.holding(jobs as never, ['a', 'b'], 30_000)).toEqual(new Map());
    expect(jobs.asked).toEqual([]);

    unfinished.add('j1', ['a', 'b']);
    unfinished.add('j2', ['c']);
    const held = await unfinished.holding(jobs as never, ['b', 'd'], 30_000);
    expect([...held.keys()]).toEqual(['b']);
    expect(held.get('b')).toBeInstanceOf(EspBusyError);
    expect(held.get('b')!.retryAfterMs).toBe(30_000);
    // Only the job that writes one of the asked members is asked about.
    expect(jobs.asked).toEqual(['j1']);

    jobs.status.set('j1', 'finished');
    expect(await unfinished.holding(jobs as never, ['a', 'b', 'c'], 30_000)).toEqual(new Map([['c', expect.any(EspBusyError)]]));
    expect(unfinished.size).toBe(1);
  });

  it('forgets a job Mailchimp no longer knows or one past the bound, and keeps holding when the status cannot be read', async () => {
    const jobs = new Jobs();
    const unfinished = new UnfinishedJobs(clock, 60_000);
    unfinished.add('gone', ['a']);
    unfinished.add('unreadable', ['b']);
    unfinished.add('slow', ['c']);
    jobs.status.set('gone', new EspPermanentError('mailchimp: not found', { esp: 'mailchimp', status: 404 }));
    jobs.status.set('unreadable', new EspTransientError('mailchimp: 503', { esp: 'mailchimp', status: 503 }));
    expect([...(await unfinished.holding(jobs as never, ['a', 'b', 'c'], 1_000)).keys()]).toEqual(['b', 'c']);
    now += 60_000;
    expect([...(await unfinished.holding(jobs as never, ['a', 'b', 'c'], 1_000)).keys()]).toEqual([]);
    expect(unfinished.size).toBe(0);
  });
});
