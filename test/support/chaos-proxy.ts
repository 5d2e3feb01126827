/**
 * A TCP proxy in front of a sandbox that breaks connections the way networks do: it resets a
 * connection before a request reaches the server (nothing happened), or after the request went through
 * but before the answer comes back (it happened, and the client cannot know), and it can hold data
 * back (a slow answer). Decisions come from the caller's seeded random source, so a run can be
 * repeated. The sandboxes inject HTTP faults (429, 5xx, delays) themselves; resets need a socket.
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ChaosOdds {
  /** Chance that a chunk from the client is dropped with a reset before reaching the server. */
  resetBefore: number;
  /** Chance that a chunk is forwarded and the connection reset when the answer starts to come back. */
  resetAfter: number;
  /** Chance that a chunk is held back `slowMs` before it is forwarded. */
  slow: number;
  slowMs: number;
}

export interface ChaosProxy {
  url: string;
  /** Odds from now on; `off()` lets everything through. */
  set(odds: Partial<ChaosOdds>): void;
  off(): void;
  /** Resets done so far (before, after) and chunks held back. */
  counts(): { resetBefore: number; resetAfter: number; slowed: number };
  close(): Promise<void>;
}

const CALM: ChaosOdds = { resetBefore: 0, resetAfter: 0, slow: 0, slowMs: 0 };

/** Starts a proxy on a free loopback port forwarding to `target` (an http://127.0.0.1:PORT URL). */
export async function startChaosProxy(target: string, random: () => number): Promise<ChaosProxy> {
  const { hostname, port, pathname } = new URL(target);
  let odds: ChaosOdds = { ...CALM };
  const counts = { resetBefore: 0, resetAfter: 0, slowed: 0 };
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    track(client);
    const upstream = connect(Number(port), hostname);
    track(upstream);
    const kill = (): void => {
      client.resetAndDestroy();
      upstream.destroy();
    };
    let resetOnAnswer = false;
    // One chain per connection keeps the client's bytes in order while some are held back.
    let chain = Promise.resolve();
    client.on('data', (chunk) => {
      client.pause();
      chain = chain.then(async () => {
        if (client.destroyed || upstream.destroyed) return;
        const roll = random();
        if (roll < odds.resetBefore) {
          counts.resetBefore++;
          kill();
          return;
        }
        if (roll < odds.resetBefore + odds.resetAfter) {
          counts.resetAfter++;
          resetOnAnswer = true;
        } else if (roll < odds.resetBefore + odds.resetAfter + odds.slow) {
          counts.slowed++;
          await new Promise((r) => setTimeout(r, odds.slowMs));
        }
        upstream.write(chunk);
        client.resume();
      });
    });
    upstream.on('data', (chunk) => {
      if (resetOnAnswer) {
        kill();
        return;
      }
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const localPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${localPort}${pathname === '/' ? '' : pathname}`,
    set: (o) => void (odds = { ...odds, ...o }),
    off: () => void (odds = { ...CALM }),
    counts: () => ({ ...counts }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
