/**
 * The consent states ESPs and exports report, mapped onto segsync's five. A contact import carries
 * whatever its source called the state (Mailchimp's "cleaned", a hard "bounce", a "spam" complaint,
 * Klaviyo's "suppressed"); each is mapped by what it means for sending, and one nobody knows is a
 * warning on that field, never a reason to lose the record. docs/rules.md ("Consent") lists the table.
 */
import type { Consent, ConsentStatus, FieldWarning, IncomingContact } from './types';
import { formatUtcMinute } from './units';

/**
 * Spellings are compared lower-cased with spaces and dashes as underscores. Complaints are
 * withdrawals of consent (Mailchimp unsubscribes a member who reports spam); bounces and other
 * suppressions mean the address must not be sent to, for a reason that is not the person's choice.
 */
const VOCABULARY: Record<string, ConsentStatus> = {
  subscribed: 'subscribed',
  opted_in: 'subscribed',
  opt_in: 'subscribed',
  optin: 'subscribed',
  confirmed: 'subscribed',

  unsubscribed: 'unsubscribed',
  opted_out: 'unsubscribed',
  opt_out: 'unsubscribed',
  optout: 'unsubscribed',
  complained: 'unsubscribed',
  complaint: 'unsubscribed',
  spam: 'unsubscribed',
  spam_complaint: 'unsubscribed',
  spam_report: 'unsubscribed',
  reported_spam: 'unsubscribed',
  marked_as_spam: 'unsubscribed',
  abuse: 'unsubscribed',
  user_suppressed: 'unsubscribed',

  cleaned: 'cleaned',
  bounced: 'cleaned',
  bounce: 'cleaned',
  hard_bounce: 'cleaned',
  hard_bounced: 'cleaned',
  hardbounce: 'cleaned',
  suppressed: 'cleaned',
  invalid: 'cleaned',
  invalid_email: 'cleaned',
  undeliverable: 'cleaned',
  blocked: 'cleaned',

  pending: 'pending',
  unconfirmed: 'pending',
  awaiting_confirmation: 'pending',
  double_opt_in: 'pending',

  'non-marketing': 'non-marketing',
  non_marketing: 'non-marketing',
  nonmarketing: 'non-marketing',
  transactional: 'non-marketing',
  never_subscribed: 'non-marketing',
};

/** The spellings segsync understands, by the status each maps to (for docs and hints). */
export function consentVocabulary(): Record<ConsentStatus, string[]> {
  const out: Record<ConsentStatus, string[]> = { subscribed: [], unsubscribed: [], cleaned: [], pending: [], 'non-marketing': [] };
  for (const [word, status] of Object.entries(VOCABULARY)) out[status].push(word);
  return out;
}

/** The outcome of reading a consent value: a status, nothing (empty), or why it was not understood. */
export type ConsentReading = { status: ConsentStatus } | { status: undefined; problem?: string };

/** Reads a consent value as an ESP or export wrote it. */
export function readConsent(value: unknown): ConsentReading {
  if (value === undefined || value === null) return { status: undefined };
  if (typeof value !== 'string') return { status: undefined, problem: `consent must be text such as "subscribed", not ${JSON.stringify(value)}` };
  const key = value
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  if (key === '') return { status: undefined };
  const status = VOCABULARY[key] ?? VOCABULARY[value.trim().toLowerCase()];
  if (status) return { status };
  return { status: undefined, problem: `unknown consent "${value}"` };
}

/** Statuses that mean "do not send marketing email". */
const OPTED_OUT: ReadonlySet<ConsentStatus> = new Set(['unsubscribed', 'cleaned']);

/** True for statuses that stop marketing email. */
export function isOptedOut(status: ConsentStatus | undefined): boolean {
  return status !== undefined && OPTED_OUT.has(status);
}

/**
 * Why a given consent was not taken (the store keeps a newer one, or an opt-out the given one does not
 * date), and how to give it so that it is: `toDate` says how this intake dates a record.
 */
export function consentKeptWarning(given: Pick<IncomingContact, 'consent' | 'consentAt'>, kept: Consent, toDate: string): FieldWarning {
  const when = formatUtcMinute(kept.updatedAt);
  const by = kept.source === 'local' ? '' : ` (from ${kept.source})`;
  return given.consentAt !== undefined && given.consentAt < kept.updatedAt
    ? {
        field: 'consent',
        message: `"${given.consent}" is older than the stored consent, ${kept.status} since ${when} UTC${by}: left as it was`,
        hint: 'a newer consent stands',
      }
    : {
        field: 'consent',
        message: `"${given.consent}" would lift the opt-out stored since ${when} UTC${by}, and this record does not say when it was given: left as it was`,
        hint: `if the person subscribed again after that, ${toDate}; an export taken before the opt-out must not undo it`,
      };
}
