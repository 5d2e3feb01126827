/** A free TCP port on loopback, for a daemon whose public URL must be known before it listens. */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Asks the OS for a free loopback port and releases it at once (the caller binds it next). */
export async function freeLoopbackPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
