import { ManualClock } from '../../../../src/model/clock';
import { ArrivalWindow } from '../../../../connectors/hubspot/arrival';
import { hubspotLimits } from '../../../../connectors/hubspot/limits';

describe('HubSpot declared limits', () => {
  it("uses the tier's ten-second and daily limits, and a capacity-pack override", () => {
    expect(hubspotLimits().windows).toMatchObject({ burst: { limit: 100, windowMs: 10_000 }, daily: { limit: 250_000 } });
    expect(hubspotLimits({ tier: 'professional' }).windows).toMatchObject({ burst: { limit: 190 }, daily: { limit: 650_000 } });
    expect(hubspotLimits({ tier: 'enterprise' }).windows.daily!.limit).toBe(1_000_000);
    expect(hubspotLimits({ tier: 'enterprise', requestsPer10s: 250 }).windows.burst!.limit).toBe(250);
  });

  it('keeps search out of the ten-second window (the spec exempts it) but in the daily budget', () => {
    const l = hubspotLimits({ searchPerSecond: 5 });
    expect(l.buckets).toEqual({ default: ['burst', 'daily'], search: ['search', 'daily'] });
    expect(l.windows.search).toMatchObject({ limit: 5, windowMs: 1_000 });
    expect(l.maxBatch).toEqual({ upsert: 100 });
  });
});

describe('HubSpot arrival window', () => {
  it('admits up to the limit, then holds the next call until the oldest answer is a window old', async () => {
    const clock = new ManualClock(0);
    const w = new ArrivalWindow({ limit: 2, windowMs: 1000 }, clock);
    await w.enter();
    await w.enter();
    let third = false;
    const pending = w.enter().then(() => (third = true));
    await clock.advance(500);
    w.leave(); // answered at 500: counts until 1500
    w.leave();
    await clock.advance(900);
    expect(third).toBe(false);
    await clock.advance(100);
    await pending;
    expect(third).toBe(true);
    expect(clock.now()).toBe(1500);
  });

  it('counts calls in flight, so a slow answer keeps its slot', async () => {
    const clock = new ManualClock(0);
    const w = new ArrivalWindow({ limit: 1, windowMs: 100 }, clock);
    await w.enter();
    let second = false;
    const pending = w.enter().then(() => (second = true));
    await clock.advance(5000);
    expect(second).toBe(false);
    expect(w.count()).toBe(1);
    w.leave();
    await clock.advance(100);
    await pending;
    expect(second).toBe(true);
  });
});
