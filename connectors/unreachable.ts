/**
 * The error for an ESP call that got no HTTP answer (connection refused, reset, timed out, host not
 * found): it names the address segsync tried and what to check there, the same way for every vendor,
 * because the cause is nearly always on the user's side (a sandbox not started, a wrong baseUrl, no
 * network) and the vendor's SDK error says neither.
 */
import { EspTransientError } from '../src/errors';
import type { EspName } from '../src/model/types';

/** Network error codes, as people say them. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'timed out',
  ETIMEDOUT: 'timed out',
  ESOCKETTIMEDOUT: 'timed out',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
  UND_ERR_SOCKET: 'connection closed',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
};

/** The first network error code in `err` or its causes (SDKs wrap the socket error once or twice). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, errno, type, timeout } = e as { code?: unknown; errno?: unknown; type?: unknown; timeout?: unknown };
    for (const c of [code, errno]) if (typeof c === 'string' && REASONS[c]) return c;
    // node-fetch marks its own timeout with type 'request-timeout'; superagent sets `timeout` (ms).
    if (type === 'request-timeout' || typeof timeout === 'number') return 'ETIMEDOUT';
  }
  return undefined;
}

/**
 * True when nothing listens at the address: retrying within the call (seconds) does not help, and the
 * caller's own schedule (the outbox, the next pull) tries again later anyway.
 */
export function isRefused(err: unknown): boolean {
  return networkCode(err) === 'ECONNREFUSED';
}

/** What went wrong, in words: "connection refused", or the code itself when it is not a common one. */
export function networkReason(err: unknown, code = networkCode(err)): string {
  const timeout = (err as { timeout?: unknown } | undefined)?.timeout;
  if (typeof timeout === 'number') return `timed out after ${timeout} ms`;
  if (code) return REASONS[code] ?? code;
  const e = err as { code?: unknown } | undefined;
  return typeof e?.code === 'string' ? e.code : 'no answer';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

/** What to check when `url` did not answer. */
export function unreachableHint(esp: EspName, url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    return `connectors.${esp}.baseUrl (${url}) is not a URL: correct it in segsync.yaml`;
  }
  if (isLoopback(parsed.hostname)) {
    const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
    return `is the sandbox on ${parsed.host} running? Start it with \`segsync sandbox ${esp} --port ${port}\`, or correct connectors.${esp}.baseUrl in segsync.yaml`;
  }
  return `check this machine's network (DNS, proxy, firewall) and connectors.${esp}.baseUrl in segsync.yaml; segsync retries later`;
}

/** The typed error for a call to `url` that got no answer; retryable, since the cause may pass. */
export function unreachableError(esp: EspName, url: string, what: string, cause: unknown): EspTransientError {
  return new EspTransientError(`${esp}: ${what}: no answer from ${url} (${networkReason(cause)})`, { esp, cause, hint: unreachableHint(esp, url) });
}
