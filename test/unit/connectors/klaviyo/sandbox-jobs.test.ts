/**
 * The Klaviyo sandbox's bulk import jobs answer `complete` only once applied: a job whose time came
 * while a request was being handled (after the request's `settle`) answered complete with no import
 * errors yet, and the connector took a rejected profile for imported (a CI flake under load).
 */
import { ManualClock } from '../../../../src/model/clock';
import { SandboxState } from '../../../../connectors/klaviyo/sandbox/state';
import { bulkJobResource } from '../../../../connectors/klaviyo/sandbox/jsonapi';

describe('Klaviyo sandbox bulk jobs', () => {
  it('reads complete only once settled, then with its import errors counted', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const state = new SandboxState(clock, 20, () => undefined);
    state.importRejections.set('late@example.com', { code: 'invalid', detail: 'Profile is suppressed for import.' });
    const job = state.createBulkJob([{ attributes: { email: 'ok@example.com' } }, { attributes: { email: 'late@example.com' } }], []);
    await clock.advance(30);
    // Its time has come, but no request's settle applied it yet.
    expect(bulkJobResource(job, state, '').attributes).toMatchObject({ status: 'processing', failed_count: 0 });
    state.settle();
    expect(bulkJobResource(job, state, '').attributes).toMatchObject({ status: 'complete', failed_count: 1, completed_count: 1 });
  });
});
