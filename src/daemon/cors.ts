/**
 * Browser access to the track API: CORS for the origins in `daemon.cors.origins`, and the rule that
 * a browser (a request with an Origin) may only ever use the public write key. Hand-written rather
 * than @fastify/cors (not a dependency): the policy is a few lines, and the key rule is segsync's own.
 */

/** What to answer a request with an Origin header. */
export type OriginVerdict = { allowed: true; origin: string } | { allowed: false; origin: string };

/** Headers a browser may send to the track API (what analytics.js and fetch send). */
export const ALLOWED_REQUEST_HEADERS = ['content-type', 'authorization', 'x-retry-count'];

/** How long a browser may cache a preflight answer, seconds. */
export const PREFLIGHT_MAX_AGE_S = 600;

/** Origins as configured (`https://shop.example.com`; `*` allows every origin), normalised for comparison. */
export function normaliseOrigins(origins: readonly string[]): Set<string> {
  return new Set(origins.map((o) => (o === '*' ? '*' : o.trim().replace(/\/+$/, '').toLowerCase())));
}

/** Whether a browser at `origin` may call the API. */
export function originVerdict(origin: string, allowed: ReadonlySet<string>): OriginVerdict {
  const normal = origin.trim().toLowerCase();
  return { allowed: allowed.has('*') || allowed.has(normal), origin };
}

/** The CORS headers of an answer to an allowed origin (preflight adds methods, headers, max-age). */
export function corsHeaders(origin: string, preflight: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'access-control-allow-origin': origin, vary: 'Origin' };
  if (preflight) {
    headers['access-control-allow-methods'] = 'POST, OPTIONS';
    headers['access-control-allow-headers'] = ALLOWED_REQUEST_HEADERS.join(', ');
    headers['access-control-max-age'] = String(PREFLIGHT_MAX_AGE_S);
  }
  return headers;
}
