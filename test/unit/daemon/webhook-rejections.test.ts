import { WebhookError } from '../../../src/errors';
import { ManualClock } from '../../../src/model/clock';
import { WebhookRejections } from '../../../src/daemon/webhook-rejections';
import { capturedLogger } from '../../support/captured-log';

const lines = (text: string): { msg: string; esp: string; reason: string; hint?: string; rejected?: number }[] =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; esp: string; reason: string; hint?: string; rejected?: number });

describe('webhook rejections in the log', () => {
  it('logs a reason once with its hint, then its count at most every interval, per ESP and reason', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 8));
    const log = capturedLogger('warn');
    const notice = new WebhookRejections(log.logger, clock, 60_000);
    const noSecret = new WebhookError('hubspot: webhook received but no client secret is configured', { hint: 'set connectors.hubspot.clientSecret' });
    for (let i = 0; i < 66; i++) notice.rejected('hubspot', noSecret);
    // An age in the message is the same reason; another ESP's is its own.
    notice.rejected('klaviyo', new WebhookError('klaviyo webhook: timestamp is 400 s away from now', { hint: 'check the clock' }));
    notice.rejected('klaviyo', new WebhookError('klaviyo webhook: timestamp is 401 s away from now', { hint: 'check the clock' }));
    expect(lines(log.text()).map((l) => [l.esp, l.reason, l.hint])).toEqual([
      ['hubspot', 'hubspot: webhook received but no client secret is configured', 'set connectors.hubspot.clientSecret'],
      ['klaviyo', 'klaviyo webhook: timestamp is 400 s away from now', 'check the clock'],
    ]);
    await clock.advance(60_000);
    notice.rejected('hubspot', noSecret);
    notice.rejected('hubspot', noSecret);
    const later = lines(log.text()).slice(2);
    expect(later.map((l) => [l.esp, l.rejected])).toEqual([['hubspot', 66]]);
    expect(later[0]!.msg).toMatch(/66 more for this reason/);
  });
});
