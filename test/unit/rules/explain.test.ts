import { parseConfig } from '../../../src/config/load';
import { explainSegment, renderExplanation } from '../../../src/rules/explain';
import { readFileSync } from 'node:fs';
import { HOUR, T0, TEMPLATE, World } from './helpers';

describe('explain', () => {
  it('shows each sub-expression with its value, the deciding events and the next change', () => {
    const w = new World();
    const id = w.contact('ex@example.com');
    w.event('ex@example.com', 'Added to Cart', T0, { product: 'p1' });
    const x = explainSegment(w.engine.rules, w.store, id, 'cart_abandoner', T0 + 2 * HOUR)!;
    expect(x.value).toBe(false);
    expect(x.nextChangeAt).toBe(new Date(T0 + 24 * HOUR).toISOString());
    const lines = readFileSync(TEMPLATE, 'utf8').split('\n');
    const ruleLine = lines.findIndex((l) => l.trim().startsWith('none_within("Placed Order", 24h, "Added to Cart")')) + 1;
    expect(x.location).toMatchObject({ file: TEMPLATE, line: ruleLine, column: 7 });
    const [left, right] = x.tree.children;
    expect(left).toMatchObject({ text: 'none_within("Placed Order", 24h, "Added to Cart")', value: false, evaluated: true });
    expect(left!.events).toEqual([{ name: 'Added to Cart', time: new Date(T0).toISOString(), properties: { product: 'p1' } }]);
    expect(right).toMatchObject({ text: '!after("Placed Order", "Added to Cart")', evaluated: false });
    const text = renderExplanation(x);
    expect(text).toContain('cart_abandoner = false');
    expect(text).toContain('→  not evaluated');
    expect(text).toContain(`· ${new Date(T0).toISOString()}  Added to Cart  {"product":"p1"}`);
  });

  it('shows why a sub-expression failed, and that && absorbed the failure', () => {
    const w = new World();
    const id = w.contact('nobuy@example.com');
    w.event('nobuy@example.com', 'Placed Order', T0 - 100 * 24 * HOUR, { value: 900 });
    const x = explainSegment(w.engine.rules, w.store, id, 'big_recent_order', T0)!;
    expect(x.value).toBe(false);
    expect(x.tree.children[0]).toMatchObject({ value: false, evaluated: true, eventCount: 0 });
    expect(x.tree.children[1]).toMatchObject({ evaluated: false });
  });

  it('marks the sub-expression that failed and the failure of the whole rule', () => {
    const w = new World(parseConfig('version: 1\nsegments:\n  recent:\n    rule: since("Placed Order") < 7d\n', 'segsync.yaml', { env: {} }));
    const id = w.contact('e@example.com');
    const x = explainSegment(w.engine.rules, w.store, id, 'recent', T0)!;
    expect(x).toMatchObject({ value: false, error: 'no "Placed Order" event' });
    expect(x.tree.children[0]).toMatchObject({ text: 'since("Placed Order")', error: 'no "Placed Order" event' });
    expect(renderExplanation(x)).toContain('since("Placed Order")  →  error: no "Placed Order" event');
  });

  it('shows a segment or contact field read as one step, without a bare variable "not evaluated" under it', () => {
    const yaml = 'version: 1\nsegments:\n  buyer:\n    rule: exists("Placed Order")\n  de_buyer:\n    rule: segments.buyer && contact.country == "DE"\n';
    const w = new World(parseConfig(yaml, 'segsync.yaml', { env: {} }));
    const id = w.contact('de@example.com', { properties: { country: 'DE' } });
    w.event('de@example.com', 'Placed Order', T0 - HOUR, { value: 5 });
    const x = explainSegment(w.engine.rules, w.store, id, 'de_buyer', T0)!;
    expect(x.value).toBe(true);
    const [buyer, country] = x.tree.children;
    expect(buyer).toMatchObject({ text: 'segments.buyer', value: true, children: [] });
    expect(country!.children[0]).toMatchObject({ text: 'contact.country', value: 'DE', children: [] });
    expect(renderExplanation(x)).not.toContain('not evaluated');
  });
});
