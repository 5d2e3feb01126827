import { parseForm, parseWebhook, webhookUrlWithSecret } from '../../../../connectors/mailchimp/webhooks';
import type { RawRequest } from '../../../../connectors/connector';
import { WebhookError } from '../../../../src/errors';

const SECRET = 's3cret-value';
const names = (merges: Record<string, unknown>) => Object.fromEntries(Object.entries(merges).map(([k, v]) => [k.toLowerCase(), String(v)]));

function request(body: string, url = `https://hooks.example.com/mc?secret=${SECRET}`, method = 'POST'): RawRequest {
  return { method, url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: Buffer.from(body), receivedAt: 0 };
}

describe('Mailchimp webhook parsing', () => {
  it('parses nested form keys', () => {
    expect(parseForm('type=profile&data%5Bmerges%5D%5BFNAME%5D=Ann&data%5Bemail%5D=a%40x.com')).toEqual({
      type: 'profile',
      data: { merges: { FNAME: 'Ann' }, email: 'a@x.com' },
    });
  });

  it('answers the validation GET with an empty 200', () => {
    expect(parseWebhook(request('', undefined, 'GET'), SECRET, names)).toEqual({ reply: { status: 200, body: '' }, changes: [], events: [] });
  });

  it('turns a profile update into an update with field values and its fired_at time', () => {
    const r = parseWebhook(
      request('type=profile&fired_at=2009-03-26+21%3A35%3A57&data[id]=8a25ff1d98&data[email]=API%40x.com&data[merges][PLAN]=pro'),
      SECRET,
      names,
    );
    expect(r.changes).toEqual([
      {
        eventId: expect.any(String),
        ref: { email: 'api@x.com', externalId: '8a25ff1d98' },
        kind: 'updated',
        fields: { plan: 'pro' },
        occurredAt: Date.UTC(2009, 2, 26, 21, 35, 57),
      },
    ]);
  });

  it('tells two different changes to one member in the same second apart, and a repeated delivery not (content dedupe)', () => {
    const at = 'fired_at=2026-03-26+21%3A35%3A57&type=profile&data[id]=8a25ff1d98&data[email]=a%40x.com';
    const first = parseWebhook(request(`${at}&data[merges][PLAN]=pro`), SECRET, names).changes[0]!;
    const second = parseWebhook(request(`${at}&data[merges][PLAN]=enterprise`), SECRET, names).changes[0]!;
    const again = parseWebhook(request(`${at}&data[merges][PLAN]=pro`), SECRET, names).changes[0]!;
    const reordered = parseWebhook(request(`data[merges][PLAN]=pro&${at}`), SECRET, names).changes[0]!;
    expect(second.eventId).not.toBe(first.eventId);
    expect(again.eventId).toBe(first.eventId);
    expect(reordered.eventId).toBe(first.eventId);
  });

  it('marks unsubscribe-with-delete as deleted and upemail as an email change', () => {
    expect(parseWebhook(request('type=unsubscribe&data[email]=a%40x.com&data[action]=delete'), SECRET, names).changes[0]).toMatchObject({
      kind: 'deleted',
      consent: 'unsubscribed',
    });
    expect(parseWebhook(request('type=upemail&data[old_email]=a%40x.com&data[new_email]=b%40x.com&data[new_id]=h2'), SECRET, names).changes[0]).toMatchObject({
      kind: 'email-changed',
      ref: { email: 'b@x.com', externalId: 'h2' },
      previous: { email: 'a@x.com' },
    });
  });

  it('refuses a wrong or missing secret, and refuses everything when no secret is configured', () => {
    expect(() => parseWebhook(request('type=profile&data[email]=a%40x.com', 'https://h.example.com/mc?secret=guess'), SECRET, names)).toThrow(WebhookError);
    expect(() => parseWebhook(request('type=profile&data[email]=a%40x.com', 'https://h.example.com/mc'), SECRET, names)).toThrow(/missing or wrong/);
    expect(() => parseWebhook(request('type=profile&data[email]=a%40x.com'), undefined, names)).toThrow(/no webhook secret is configured/);
  });

  it('names malformed deliveries (answered 200, so Mailchimp does not resend them) and ignores campaign events', () => {
    const refused = (body: string): string[] => {
      const r = parseWebhook(request(body), SECRET, names);
      expect(r.reply?.status).toBe(200);
      expect(r.changes).toEqual([]);
      return (r.rejected ?? []).map((x) => x.message);
    };
    expect(refused('data[email]=a%40x.com')).toEqual([expect.stringMatching(/no "type"/)]);
    expect(refused('type=subscribe')).toEqual([expect.stringMatching(/no data\[email\]/)]);
    expect(refused('type=teleport&data[email]=a%40x.com')).toEqual([expect.stringMatching(/unknown type "teleport"/)]);
    expect(refused(`type=profile&data[email]=a%40x.com&data[merges]${'[a]'.repeat(40)}=1`)).toEqual([expect.stringMatching(/nested more than 32 levels/)]);
    expect(parseWebhook(request('type=campaign&data[id]=c1'), SECRET, names).changes).toEqual([]);
  });

  it('builds the registered URL', () => {
    expect(webhookUrlWithSecret('https://h.example.com/mc?x=1', 'k k')).toBe('https://h.example.com/mc?x=1&secret=k+k');
  });
});
