/**
 * Native Mailchimp tags, written in bulk. A tag is a static segment; adding and removing members goes
 * through `POST /lists/{id}/segments/{segment_id}` with at most 500 adds and 500 removes per call.
 * Only the tags named in a change are touched (segsync's own), never the member's whole tag set.
 */
import type { SegsyncError } from '../../src/errors';
import { EspPermanentError, asEspError } from '../../src/errors';
import type { MailchimpClient } from './client';
import type { Segment } from './wire';
import { MAX_TAG_NAME } from './schema';
import { normaliseEmail } from '../../src/model/identity';

/** Per call of the static-segment endpoint, for adds and for removes each. */
export const SEGMENT_BATCH = 500;

/** What to do to one tag: emails to add and to remove. */
export interface TagPlan {
  tag: string;
  add: string[];
  remove: string[];
}

/** Groups per-contact tag changes by tag (tag names compare case-insensitively, as on Mailchimp). */
export function planTagChanges(changes: { email: string; addTags: string[]; removeTags: string[] }[]): TagPlan[] {
  const plans = new Map<string, TagPlan>();
  const plan = (tag: string): TagPlan => {
    const key = tag.toLowerCase();
    let p = plans.get(key);
    if (!p) plans.set(key, (p = { tag, add: [], remove: [] }));
    return p;
  };
  const unique = (tags: string[]): string[] => [...new Map(tags.map((t) => [t.toLowerCase(), t])).values()];
  for (const c of changes) {
    const adds = unique(c.addTags);
    const added = new Set(adds.map((t) => t.toLowerCase()));
    for (const t of adds) plan(t).add.push(c.email);
    for (const t of unique(c.removeTags)) if (!added.has(t.toLowerCase())) plan(t).remove.push(c.email);
  }
  return [...plans.values()];
}

/** Splits one tag's adds and removes into calls of at most `size` each (adds and removes share calls). */
export function chunkTagPlan(plan: TagPlan, size = SEGMENT_BATCH): { add: string[]; remove: string[] }[] {
  const calls = Math.max(Math.ceil(plan.add.length / size), Math.ceil(plan.remove.length / size));
  const out: { add: string[]; remove: string[] }[] = [];
  for (let i = 0; i < calls; i++) out.push({ add: plan.add.slice(i * size, (i + 1) * size), remove: plan.remove.slice(i * size, (i + 1) * size) });
  return out;
}

/** The audience's tags (static segments) by lower-cased name, created on demand. */
export class TagIndex {
  private byName: Map<string, Segment> | undefined;
  private loading: Promise<Map<string, Segment>> | undefined;
  private readonly creating = new Map<string, Promise<Segment>>();

  constructor(private readonly client: MailchimpClient) {}

  /** All static segments, read once. */
  private async all(): Promise<Map<string, Segment>> {
    if (this.byName) return this.byName;
    this.loading ??= this.client.staticSegments().then((segments) => new Map(segments.map((s) => [s.name.toLowerCase(), s])));
    try {
      this.byName = await this.loading;
      return this.byName;
    } finally {
      this.loading = undefined;
    }
  }

  /** Forgets what was read, so the next use reads the tags again (a pull does this). */
  refresh(): void {
    this.byName = undefined;
  }

  /** Every tag's name as Mailchimp spells it. */
  async names(): Promise<string[]> {
    return [...(await this.all()).values()].map((s) => s.name);
  }

  /** The tag's segment, if it exists. */
  async find(tag: string): Promise<Segment | undefined> {
    return (await this.all()).get(tag.toLowerCase());
  }

  /** The tag's segment, created when missing. */
  async ensure(tag: string): Promise<{ segment: Segment; created: boolean }> {
    if (tag.trim() === '' || tag.length > MAX_TAG_NAME) {
      throw new EspPermanentError(`mailchimp: tag name ${JSON.stringify(tag)} is empty or longer than ${MAX_TAG_NAME} characters`, {
        esp: 'mailchimp',
        hint: 'shorten the segment or tag name in segsync.yaml',
      });
    }
    const key = tag.toLowerCase();
    const known = (await this.all()).get(key);
    if (known) return { segment: known, created: false };
    let pending = this.creating.get(key);
    if (!pending) {
      pending = this.client.createTag(tag).finally(() => this.creating.delete(key));
      this.creating.set(key, pending);
    }
    const segment = await pending;
    (await this.all()).set(key, segment);
    return { segment, created: true };
  }
}

/** What applying tag plans did: failures by email, and by email the (lower-cased) tags members already had. */
export interface TagPlanResults {
  failures: Map<string, SegsyncError>;
  held: Map<string, Set<string>>;
}

/**
 * Applies tag plans. One failed call fails the emails it carried, a per-member entry in `errors[]` fails
 * only those members; everyone else succeeded. A member the answer names neither as added nor in
 * `errors[]` already had the tag (a user's own, put there since segsync last read the member).
 */
export async function applyTagPlans(client: MailchimpClient, index: TagIndex, plans: TagPlan[]): Promise<TagPlanResults> {
  const failures = new Map<string, SegsyncError>();
  const held = new Map<string, Set<string>>();
  const fail = (emails: string[], error: SegsyncError): void => {
    for (const e of emails) if (!failures.has(e)) failures.set(e, error);
  };
  await Promise.all(
    plans.map(async (plan) => {
      let segmentId: number;
      try {
        if (plan.add.length === 0) {
          // Removing a tag that does not exist is already done: do not create it for that.
          const found = await index.find(plan.tag);
          if (!found) return;
          segmentId = found.id;
        } else {
          segmentId = (await index.ensure(plan.tag)).segment.id;
        }
      } catch (err) {
        fail([...plan.add, ...plan.remove], asEspError(err, 'mailchimp'));
        return;
      }
      await Promise.all(
        chunkTagPlan(plan).map(async (call) => {
          try {
            const result = await client.segmentBatch(segmentId, call.add, call.remove);
            if (result.members_added) {
              const answered = new Set(
                [...result.members_added.map((m) => m.email_address), ...result.errors.flatMap((e) => e.email_addresses)].map(normaliseEmail),
              );
              for (const e of call.add) if (!answered.has(normaliseEmail(e))) held.set(e, (held.get(e) ?? new Set()).add(plan.tag.toLowerCase()));
            }
            for (const e of result.errors) {
              const error = new EspPermanentError(`mailchimp: tag "${plan.tag}" not changed: ${e.error ?? 'refused'}`, {
                esp: 'mailchimp',
                hint: 'the member may not be on the audience (tags apply only to members); it is retried with its next change',
              });
              fail(
                e.email_addresses.map((a) => a.toLowerCase()),
                error,
              );
            }
          } catch (err) {
            fail([...call.add, ...call.remove], asEspError(err, 'mailchimp'));
          }
        }),
      );
    }),
  );
  return { failures, held };
}
