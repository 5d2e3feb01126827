import { chunkTagPlan, planTagChanges } from '../../../../connectors/mailchimp/tags';

describe('planTagChanges', () => {
  it('groups by tag case-insensitively and lets an add win over a remove of the same tag', () => {
    const plans = planTagChanges([
      { email: 'a@x.com', addTags: ['VIP', 'vip'], removeTags: ['old'] },
      { email: 'b@x.com', addTags: ['vip'], removeTags: ['vip', 'old'] },
    ]);
    expect(plans).toEqual([
      { tag: 'vip', add: ['a@x.com', 'b@x.com'], remove: [] },
      { tag: 'old', add: [], remove: ['a@x.com', 'b@x.com'] },
    ]);
  });
});

describe('chunkTagPlan', () => {
  it('puts at most 500 adds and 500 removes in each call, sharing calls', () => {
    const emails = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}@x.com`);
    const calls = chunkTagPlan({ tag: 't', add: emails(1200, 'a'), remove: emails(600, 'r') });
    expect(calls.map((c) => [c.add.length, c.remove.length])).toEqual([
      [500, 500],
      [500, 100],
      [200, 0],
    ]);
  });
});
