import { ContactCache } from '../../../src/rules/contact-cache';

const T0 = Date.UTC(2026, 0, 1);

/** A contact's view with its properties as a plain object (the worker's objects have Object's prototype). */
function plain(cache: ContactCache, id: number): unknown {
  const v = cache.view(id);
  return v && { ...v, properties: { ...v.properties }, tags: [...v.tags] };
}

describe('ContactCache export / import (what crosses to a sweep worker)', () => {
  it('carries every attribute exactly, and a contact gone from the main cache leaves the worker too', () => {
    const main = new ContactCache(undefined);
    const props = (o: Record<string, unknown>): Record<string, never> => Object.assign(Object.create(null) as Record<string, never>, o);
    main.put(1, 'a@x.com', T0, 'subscribed', props({ plan: 'pro', score: 2.5, nested: { a: [1, 'b', null] }, gone: null }), ['vip', 'b"q']);
    main.put(2, 'ü"\\@x.com', T0 + 1, undefined);
    main.put(70_000, 'far@x.com', T0 + 2, 'pending', props({ plan: '' }), []);
    main.put(5, 'erased@x.com', T0, 'subscribed', props({ plan: 'free' }), ['t']);

    const worker = new ContactCache(undefined);
    worker.import(main.export([1, 2, 5, 70_000]));
    expect(worker.size).toBe(4);
    for (const id of [1, 2, 5, 70_000]) expect(plain(worker, id)).toEqual(plain(main, id));
    expect(worker.view(1)!.properties.gone).toBeNull();
    expect(worker.view(2)!.consent).toBe('');

    main.replace(5, undefined);
    main.put(3, 'new@x.com', T0 + 3, 'subscribed');
    worker.import(main.export([3, 5, 9]));
    expect(worker.size).toBe(4);
    expect(worker.has(5)).toBe(false);
    expect(worker.has(9)).toBe(false);
    expect(plain(worker, 3)).toEqual(plain(main, 3));
    expect([...worker.ids()]).toEqual([1, 2, 3, 70_000]);
  });
});

describe('ContactCache without emails (rule sets that never read one)', () => {
  it('knows every contact as the full cache does, with every email empty, through put, replace, import and export', () => {
    const full = new ContactCache(undefined);
    const lean = new ContactCache(undefined, false);
    for (const cache of [full, lean]) {
      cache.put(1, 'a@x.com', T0, 'subscribed', { plan: 'pro' }, ['vip']);
      cache.put(2, 'b@x.com', T0 + 1, undefined);
      cache.replace(2, undefined);
      cache.replace(3, { id: 3, email: 'c@x.com', createdAt: T0 + 2, properties: {}, tags: new Set<string>() } as never);
    }
    expect([...lean.ids()]).toEqual([...full.ids()]);
    expect(lean.size).toBe(full.size);
    for (const id of [1, 3]) expect(plain(lean, id)).toEqual({ ...(plain(full, id) as object), email: '' });
    expect(lean.exportAll().emails).toBeUndefined();
    const worker = new ContactCache(undefined, false);
    worker.import(full.export([1, 2, 3]));
    expect(worker.view(1)!.email).toBe('');
    expect([...worker.ids()]).toEqual([1, 3]);
  });
});

describe('ContactCache shared records', () => {
  it('gives contacts with equal properties and tags one frozen record and one frozen list, across put, replace and import', () => {
    const cache = new ContactCache(new Set(['plan', 'country']));
    for (let id = 1; id <= 3; id++) cache.put(id, `c${id}@x.com`, T0, 'subscribed', { country: 'DE', plan: 'pro' }, ['vip']);
    cache.put(4, 'd@x.com', T0, 'subscribed', { country: 'AT', plan: 'pro' }, ['vip']);
    const [a, b, c, d] = [1, 2, 3, 4].map((id) => cache.view(id)!);
    expect(a!.properties).toBe(b!.properties);
    expect(a!.properties).toBe(c!.properties);
    expect(a!.properties).not.toBe(d!.properties);
    expect(a!.tags).toBe(d!.tags);
    expect(Object.isFrozen(a!.properties) && Object.isFrozen(a!.tags)).toBe(true);
    // A change to one contact gives it another record and leaves the others' untouched.
    cache.replace(2, {
      id: 2,
      email: 'c2@x.com',
      createdAt: T0,
      properties: { country: { value: 'FR', updatedAt: T0, source: 'local' }, plan: { value: 'pro', updatedAt: T0, source: 'local' } },
      tags: new Set(['vip']),
    } as never);
    expect(cache.view(2)!.properties.country).toBe('FR');
    expect(cache.view(1)!.properties.country).toBe('DE');
    const worker = new ContactCache(new Set(['plan', 'country']));
    worker.import(cache.export([1, 3, 4]));
    expect(worker.view(1)!.properties).toBe(worker.view(3)!.properties);
    expect(worker.view(1)!.properties).toEqual(cache.view(1)!.properties);
  });
});

describe('ContactCache counts', () => {
  it('counts each contact once through put, replace and import, and keeps the largest id written as maxId', () => {
    const cache = new ContactCache(undefined, false);
    cache.put(2, 'a@x.com', T0, 'subscribed');
    cache.put(2, 'a@x.com', T0, 'unsubscribed');
    cache.replace(3000, { id: 3000, email: 'b@x.com', createdAt: T0, properties: {}, tags: new Set<string>() } as never);
    expect([cache.size, cache.maxId]).toEqual([2, 3000]);
    cache.replace(5000, undefined);
    expect([cache.size, cache.maxId, cache.has(5000)]).toEqual([2, 5000, false]);
    cache.replace(2, undefined);
    cache.replace(2, undefined);
    expect([cache.size, cache.has(2), cache.view(2)]).toEqual([1, false, undefined]);
    const other = new ContactCache(undefined, false);
    other.put(2, 'a@x.com', T0 + 5, 'pending', { plan: 'pro' }, ['vip']);
    cache.import(other.export([2, 3000]));
    expect([cache.size, [...cache.ids()]]).toEqual([1, [2]]);
    expect(plain(cache, 2)).toEqual({ id: 2, email: '', properties: { plan: 'pro' }, tags: ['vip'], consent: 'pending', createdAt: T0 + 5 });
  });
});
