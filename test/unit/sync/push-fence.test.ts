import { PushFence } from '../../../src/sync/push-fence';

const keys = (set: ReadonlySet<string> | undefined): string[] => [...(set ?? [])].sort();

describe('push fence: what a read under way leaves to the pushes', () => {
  it('holds the keys of a push in flight, and those an answer wrote while the read was open', () => {
    const fence = new PushFence();
    fence.sent('mailchimp', 1, ['@tags']);
    fence.answered('mailchimp', 1, ['@tags'], ['@tags']);
    const reading = fence.open('mailchimp');
    // Answered before the read began: the read sees it.
    expect(reading.held(1)).toBeUndefined();
    fence.sent('mailchimp', 1, ['@tags', 'FNAME']);
    expect(keys(reading.held(1))).toEqual(['@tags', 'FNAME']);
    fence.answered('mailchimp', 1, ['@tags', 'FNAME'], ['@tags']);
    expect(keys(reading.held(1))).toEqual(['@tags']);
    // Another ESP's pushes are not this read's concern.
    fence.sent('hubspot', 2, ['firstname']);
    expect(reading.held(2)).toBeUndefined();
    reading.close();
  });

  it('counts overlapping pushes of one key, holds nothing a failed push wrote, and forgets a closed read', () => {
    const fence = new PushFence();
    const reading = fence.open('klaviyo');
    fence.sent('klaviyo', 7, ['@tags']);
    fence.sent('klaviyo', 7, ['@tags']);
    fence.answered('klaviyo', 7, ['@tags'], []);
    expect(keys(reading.held(7))).toEqual(['@tags']);
    fence.answered('klaviyo', 7, ['@tags'], []);
    expect(reading.held(7)).toBeUndefined();
    reading.close();
    fence.sent('klaviyo', 7, ['@tags']);
    fence.answered('klaviyo', 7, ['@tags'], ['@tags']);
    expect(fence.open('klaviyo').held(7)).toBeUndefined();
  });
});
