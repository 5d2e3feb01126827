import { register as globalRegistry } from 'prom-client';
import { startHarness } from '../../support/daemon-harness';
import type { Harness } from '../../support/daemon-harness';

describe('daemon health and metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('answers liveness without asking the services', async () => {
    h.services.connectorsReachable = false;
    const r = await fetch(`${h.url}/healthz`);
    h.services.connectorsReachable = true;
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true });
  });

  it('answers readiness from the services: 200 when store and connectors are reachable, else 503 with the failing check', async () => {
    const ok = await fetch(`${h.url}/readyz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, checks: { store: { ok: true }, connectors: { ok: true } } });
    h.services.connectorsReachable = false;
    const down = await fetch(`${h.url}/readyz`);
    h.services.connectorsReachable = true;
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ok: false, checks: { connectors: { ok: false, detail: expect.any(String) } } });
  });

  it('answers 503 when the readiness check itself fails', async () => {
    const ready = h.services.ready;
    h.services.ready = async () => {
      throw new Error('database is locked');
    };
    try {
      const r = await fetch(`${h.url}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ ok: false, checks: { services: { ok: false, detail: 'database is locked' } } });
    } finally {
      h.services.ready = ready;
    }
  });

  it('exports outbox depth per ESP (read on scrape), pull lag, API calls, request durations and process metrics', async () => {
    const contact = h.store.resolveEmails(['gauge@example.com']).get('gauge@example.com')!;
    h.store.enqueue([{ esp: 'klaviyo', contactId: contact, key: 'x', op: 'set', value: 1 }], h.clock.now() + 3_600_000);
    await h.clock.advance(30_000);
    const r = await fetch(`${h.url}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).toMatch(/^segsync_outbox_depth\{esp="klaviyo",state="pending"\} 1$/m);
    expect(text).toMatch(/^segsync_outbox_depth\{esp="hubspot",state="dead"\} 0$/m);
    // The pulls ran at start; the clock moved 30 s since.
    expect(text).toMatch(/^segsync_pull_lag_seconds\{esp="mailchimp"\} 30$/m);
    expect(text).toMatch(/^segsync_esp_api_calls_total\{esp="hubspot",op="pull"\} 1$/m);
    expect(text).toMatch(/^segsync_pulls_total\{esp="hubspot",result="ok"\} 1$/m);
    // Both 503s counted under their route and status (a bucket below +Inf would depend on the machine's load).
    expect(text).toMatch(/^segsync_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/readyz",status="503"\} 2$/m);
    expect(text).toMatch(/^segsync_http_request_duration_seconds_count\{method="GET",route="\/readyz",status="503"\} 2$/m);
    expect(text).toMatch(/^segsync_process_resident_memory_bytes \d+/m);
  });

  it("keeps its metrics on its own registry, not prom-client's global one", async () => {
    expect(await globalRegistry.metrics()).not.toContain('segsync_');
  });

  it('labels unknown paths as unmatched, so scanners cannot blow up the label set', async () => {
    await fetch(`${h.url}/wp-admin/${Math.random()}`);
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/route="unmatched",status="404"/);
    expect(text).not.toMatch(/wp-admin/);
  });
});
