/**
 * A tag write sent without a recorded answer (the process died after Klaviyo applied it, or the answer
 * was lost to a reset) may have landed. When the tag is then no longer wanted, the outbox takes the
 * write back; the connector must send that, though segsync's belief (which never saw the write land)
 * says the ESP already matches. Found by the chaos test: profiles kept a clock-flipped segment tag.
 */
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const MAPPINGS = `fields:
  first_name: { type: string, conflict: latest }
mappings:
  klaviyo: [{ local: first_name, remote: first_name }]
`;

describe('a tag write that was sent but never answered', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeEach(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, MAPPINGS));
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  const tagsOnKlaviyo = (): string[] => ((s.klaviyo.profileByEmail('ann@x.com')?.properties['segsync_tags'] ?? []) as string[]).slice().sort();

  /** Queues the tag change, marks it sent as a drain does, and lets it land on Klaviyo with no answer recorded. */
  function sendWithoutAnswer(id: number, edit: 'append' | 'unappend', tag: string): void {
    h.engine.enqueue([id]);
    const queued = h.store.pendingOutbox('klaviyo', id);
    expect(queued.map((o) => [o.op, o.value])).toEqual([[edit === 'append' ? 'addTag' : 'removeTag', tag]]);
    h.store.claimOutbox(queued);
    s.klaviyo.state.patchProfile(s.klaviyo.profileByEmail('ann@x.com')!.id, {
      attributes: {},
      meta: { patch_properties: { [edit]: { segsync_tags: [tag] } } },
    });
  }

  it('takes back an add that landed when the tag is no longer wanted, and a removal that landed when it is wanted again', async () => {
    const id = h.store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Ann' }, tags: ['seg:a'], source: 'local' }])[0]!.contactId;
    await h.pushAll();
    expect(tagsOnKlaviyo()).toEqual(['seg:a']);

    h.store.updateTags(id, ['seg:recent'], [], 'local', Date.now());
    sendWithoutAnswer(id, 'append', 'seg:recent');
    expect(tagsOnKlaviyo()).toEqual(['seg:a', 'seg:recent']);
    // The segment turns off before the write is answered or sent again: the add is taken back.
    h.store.updateTags(id, [], ['seg:recent'], 'local', Date.now());
    await h.pushAll();
    expect(tagsOnKlaviyo()).toEqual(['seg:a']);

    // The other way round: a removal that landed unanswered, then the tag wanted again.
    h.store.updateTags(id, [], ['seg:a'], 'local', Date.now());
    sendWithoutAnswer(id, 'unappend', 'seg:a');
    expect(tagsOnKlaviyo()).toEqual([]);
    h.store.updateTags(id, ['seg:a'], [], 'local', Date.now());
    await h.pushAll();
    expect(tagsOnKlaviyo()).toEqual(['seg:a']);
    expect(h.store.counts().outbox).toEqual([]);
  });
});
