import { ConfigError } from '../../../src/errors';
import { accessOf, checkTokenPolicy, presentedToken } from '../../../src/daemon/auth';

const keys = { writeKey: 'write-0123456789', serverKey: 'server-0123456789' };

describe('the two keys of the track API', () => {
  it('grants events to the write key and everything to the server key; anything else nothing', () => {
    expect(accessOf('write-0123456789', keys)).toBe('write');
    expect(accessOf('server-0123456789', keys)).toBe('server');
    expect(accessOf('server-012345678', keys)).toBeUndefined();
    expect(accessOf(undefined, keys)).toBeUndefined();
    expect(accessOf('anything', {})).toBe('server');
    expect(accessOf('write-0123456789', { writeKey: keys.writeKey })).toBe('write');
  });

  it('reads the write key as Segment libraries send it (Basic base64("key:"))', () => {
    const basic = `Basic ${Buffer.from('write-0123456789:').toString('base64')}`;
    expect(accessOf(presentedToken(basic), keys)).toBe('write');
  });

  it('refuses one value for both keys, and no key at all off loopback', () => {
    expect(() => checkTokenPolicy('127.0.0.1', { writeKey: 'same', serverKey: 'same' }, false)).toThrow(/same value/);
    expect(() => checkTokenPolicy('0.0.0.0', {}, false)).toThrow(ConfigError);
    expect(() => checkTokenPolicy('0.0.0.0', {}, true)).toThrow(/loopback/);
    expect(() => checkTokenPolicy('0.0.0.0', { writeKey: 'w' }, false)).not.toThrow();
    expect(() => checkTokenPolicy('127.0.0.1', {}, true)).not.toThrow();
  });
});
