import { z } from 'zod';
import { WebhookError } from '../../../src/errors';
import type { RawRequest } from '../../../connectors/connector';
import { readDelivery, readItems, sameSecret } from '../../../connectors/webhook-checks';

describe('sameSecret', () => {
  it('compares secrets and signatures of any length, empty included, without throwing', () => {
    expect(sameSecret('a', 'a')).toBe(true);
    expect(sameSecret('a', 'ab')).toBe(false);
    expect(sameSecret(Buffer.alloc(0), Buffer.from('c2lnbmVk', 'base64'))).toBe(false);
    expect(sameSecret(Buffer.from('c2lnbmVk', 'base64'), Buffer.from('signed'))).toBe(true);
  });
});

describe('readItems', () => {
  const schema = z.object({ id: z.number() });
  const read = (item: { id: number }): string => {
    if (item.id < 0) throw new Error('a negative id');
    return `#${item.id}`;
  };

  it('keeps the readable items and rejects each bad one alone, in item order, named by label and index', () => {
    const { read: ok, rejected } = readItems([{ id: 1 }, { id: 'x' }, { id: -1 }, 'junk', { id: 2 }], schema, 'fake webhook item', read);
    expect(ok).toEqual([
      { index: 0, value: '#1' },
      { index: 4, value: '#2' },
    ]);
    expect(rejected).toEqual([
      { index: 1, message: 'fake webhook item 1: id: Invalid input: expected number, received string' },
      { index: 2, message: 'fake webhook item 2: a negative id' },
      { index: 3, message: 'fake webhook item 3: : Invalid input: expected object, received string' },
    ]);
  });
});

describe('readDelivery', () => {
  const schema = z.object({ data: z.array(z.unknown()) });
  const request = (body: string): RawRequest => ({ method: 'POST', url: '/webhooks/fake', headers: {}, rawBody: Buffer.from(body), receivedAt: 0 });
  const refuse = {
    notJson: ['fake: not JSON', 'send JSON'] as [string, string],
    invalid: (issue?: { message: string }): [string, string] => [`fake: bad shape: ${issue?.message}`, 'send {data: []}'],
  };

  it('answers the body of the expected shape, and refuses other bodies naming which check failed', () => {
    expect(readDelivery(request('{"data":[1]}'), schema, refuse)).toEqual({ data: [1] });
    const notJson = (() => {
      try {
        return readDelivery(request('{data'), schema, refuse);
      } catch (err) {
        return err;
      }
    })() as WebhookError;
    expect(notJson).toBeInstanceOf(WebhookError);
    expect([notJson.message, notJson.hint, notJson.cause]).toEqual(['fake: not JSON', 'send JSON', expect.any(SyntaxError)]);
    expect(() => readDelivery(request('{"data":1}'), schema, refuse)).toThrow('fake: bad shape: Invalid input: expected array, received number');
  });
});
