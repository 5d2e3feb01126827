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

/**
 * Refuses to start an unauthenticated track API, except on a loopback address with the explicit
 * `--insecure-no-token` opt-in.
 */
export function checkTokenPolicy(host: string, token: string | undefined, insecureNoToken: boolean): void {
  if (token) return;
  if (!insecureNoToken) {
    throw new ConfigError('daemon.trackToken is not set: the track API would accept anyone\'s events', {
      hint: 'set daemon.trackToken: ${SEGSYNC_TRACK_TOKEN} in segsync.yaml and export a long random value (openssl rand -hex 32); for local trials on 127.0.0.1 only, pass --insecure-no-token',
    });
  }
  if (!isLoopback(host)) {
    throw new ConfigError(`--insecure-no-token is only allowed on a loopback address, not ${host}`, {
      hint: 'bind to 127.0.0.1 (--host 127.0.0.1) or set daemon.trackToken',
    });
  }
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
