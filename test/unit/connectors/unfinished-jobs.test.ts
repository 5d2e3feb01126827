import { UnfinishedJobs } from '../../../connectors/unfinished-jobs';
import type { JobState } from '../../../connectors/unfinished-jobs';
import { EspBusyError, EspPermanentError } from '../../../src/errors';
import type { Clock } from '../../../src/model/clock';

/** Job states as a vendor would answer them (an Error: the question failed), and the jobs asked about. */
class Jobs {
  state = new Map<string, JobState | Error>();
  asked: string[] = [];
  readonly stateOf = async (id: string): Promise<JobState> => {
    this.asked.push(id);
    const s = this.state.get(id) ?? 'running';
    if (s instanceof Error) throw s;
    return s;
  };
}

describe('vendor jobs segsync stopped waiting for', () => {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async () => undefined };

  it('holds the contacts of a job still running, asks nothing when none is noted, and lets go once it has finished', async () => {
    const jobs = new Jobs();
    const unfinished = new UnfinishedJobs('mailchimp', clock);
    expect(await unfinished.holding(['a', 'b'], jobs.stateOf, 30_000)).toEqual(new Map());
    expect(jobs.asked).toEqual([]);

    unfinished.add('j1', ['a', 'b']);
    unfinished.add('j2', ['c']);
    const held = await unfinished.holding(['b', 'd'], jobs.stateOf, 30_000);
    expect([...held.keys()]).toEqual(['b']);
    expect(held.get('b')).toBeInstanceOf(EspBusyError);
    expect({ esp: held.get('b')!.esp, retryAfterMs: held.get('b')!.retryAfterMs }).toEqual({ esp: 'mailchimp', retryAfterMs: 30_000 });
    // Only the job that writes one of the asked contacts is asked about.
    expect(jobs.asked).toEqual(['j1']);

    jobs.state.set('j1', 'finished');
    expect(await unfinished.holding(['a', 'b', 'c'], jobs.stateOf, 30_000)).toEqual(new Map([['c', expect.any(EspBusyError)]]));
    // j1 is forgotten: asked about a contact only it wrote, nothing is asked; j2, forgotten once read, neither.
    const asked = jobs.asked.length;
    expect(await unfinished.holding(['a'], jobs.stateOf, 30_000)).toEqual(new Map());
    unfinished.forget('j2');
    expect(await unfinished.holding(['c'], jobs.stateOf, 30_000)).toEqual(new Map());
    expect(jobs.asked.length).toBe(asked);
  });

  it('forgets a job the vendor no longer knows or one past the bound, and keeps holding when its state cannot be read', async () => {
    const jobs = new Jobs();
    const unfinished = new UnfinishedJobs('klaviyo', clock, undefined, 60_000);
    unfinished.add('gone', ['a']);
    unfinished.add('unreadable', ['b']);
    unfinished.add('slow', ['c']);
    jobs.state.set('gone', new EspPermanentError('klaviyo: not found', { esp: 'klaviyo', status: 404 }));
    jobs.state.set('unreadable', new Error('503'));
    expect([...(await unfinished.holding(['a', 'b', 'c'], jobs.stateOf, 1_000)).keys()]).toEqual(['b', 'c']);
    now += 60_000;
    const asked = jobs.asked.length;
    expect([...(await unfinished.holding(['a', 'b', 'c'], jobs.stateOf, 1_000)).keys()]).toEqual([]);
    // Expired, none is asked about any more.
    expect(jobs.asked.length).toBe(asked);
  });
});
