/**
 * Who may call the track API: a bearer token compared in constant time, and the rule that a daemon
 * reachable from other machines never runs without one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError } from '../errors';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The two keys of the track API: `write` may only send events, `server` may do everything. */
export interface ApiKeys {
  writeKey?: string;
  serverKey?: string;
}

/** What a caller may do: send events only, or also identify (traits, consent). */
export type Access = 'write' | 'server';

/**
 * Refuses to start an unauthenticated track API, except on a loopback address with the explicit
 * `--insecure-no-token` opt-in; refuses one value used for both keys (it would grant everything).
 */
export function checkTokenPolicy(host: string, keys: ApiKeys, insecureNoToken: boolean): void {
  if (keys.writeKey && keys.writeKey === keys.serverKey) {
    throw new ConfigError('daemon.writeKey and daemon.serverKey are the same value', {
      hint: 'the write key is public (browsers send it) and may only send events; give the server key its own long random value',
    });
  }
  if (keys.writeKey || keys.serverKey) return;
  if (!insecureNoToken) {
    throw new ConfigError("neither daemon.writeKey nor daemon.serverKey is set: the track API would accept anyone's events", {
      hint: 'set daemon.serverKey: ${SEGSYNC_SERVER_KEY} (and daemon.writeKey: ${SEGSYNC_WRITE_KEY} for browsers) in segsync.yaml and export long random values (openssl rand -hex 32); for local trials on 127.0.0.1 only, pass --insecure-no-token',
    });
  }
  if (!isLoopback(host)) {
    throw new ConfigError(`--insecure-no-token is only allowed on a loopback address, not ${host}`, {
      hint: 'bind to 127.0.0.1 (--host 127.0.0.1) or set daemon.serverKey and daemon.writeKey',
    });
  }
}

/** The access a presented token grants, or undefined when it matches no key. Without keys, everything is allowed. */
export function accessOf(presented: string | undefined, keys: ApiKeys): Access | undefined {
  if (!keys.writeKey && !keys.serverKey) return 'server';
  // Both compared every time, so the answer takes as long whichever key (if any) matches.
  const server = keys.serverKey !== undefined && tokenMatches(presented, keys.serverKey);
  const write = keys.writeKey !== undefined && tokenMatches(presented, keys.writeKey);
  if (server) return 'server';
  return write ? 'write' : undefined;
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or Segment's `Basic base64(<writeKey>:)`
 * so Segment client libraries can post here with the token as their write key.
 */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, value] = authorization.trim().split(/\s+/, 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? decoded : decoded.slice(0, colon);
  }
  return undefined;
}

/** Compares tokens in time independent of where they differ (hashing first evens the lengths). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
