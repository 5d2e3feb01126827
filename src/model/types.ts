/** The ESPs segsync syncs with. */
export const ESP_NAMES = ['hubspot', 'mailchimp', 'klaviyo'] as const;
export type EspName = (typeof ESP_NAMES)[number];

/** Where a property value came from: set locally (import, track API), computed by a rule, or an ESP. */
export type ValueSource = 'local' | 'rule' | EspName;

/** A property value as stored: JSON-compatible scalars or lists. `null` means "cleared". */
export type FieldValue = string | number | boolean | null | FieldValue[] | { [key: string]: FieldValue };

/** One property of a contact with when and where it was last set. */
export interface PropertyValue {
  value: FieldValue;
  /** Epoch milliseconds. */
  updatedAt: number;
  source: ValueSource;
}

/** Marketing consent status, normalised across ESPs. */
export const CONSENT_STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'non-marketing'] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export interface Consent {
  status: ConsentStatus;
  /** Epoch milliseconds of the change. */
  updatedAt: number;
  source: ValueSource;
}

/** The ids a contact has on each ESP (HubSpot record id, Mailchimp subscriber hash, Klaviyo profile id). */
export type ExternalIds = Partial<Record<EspName, string>>;

/** A contact as the store holds it. */
export interface Contact {
  id: number;
  /** Normalised (trimmed, lower-cased): the cross-ESP key. */
  email: string;
  externalIds: ExternalIds;
  properties: Record<string, PropertyValue>;
  tags: Set<string>;
  consent: Consent | undefined;
  createdAt: number;
  updatedAt: number;
}

/** An event property map: JSON values. */
export type EventProperties = Record<string, FieldValue>;

/** A behavioral event ("Placed Order", "Opened Email", …) of one contact. */
export interface SegsyncEvent {
  /** Idempotency id: a second event with the same id is dropped. */
  eventId: string;
  contactId: number;
  name: string;
  /** Epoch milliseconds when it happened. */
  time: number;
  properties: EventProperties;
  source: ValueSource | 'import' | 'track';
}

/** An event as it arrives, before identity resolution. */
export interface IncomingEvent {
  eventId?: string;
  email: string;
  name: string;
  time: number;
  properties: EventProperties;
  source: SegsyncEvent['source'];
  /** The sender gave no time: `time` is when it arrived, so a resend of it arrives with another. */
  timeFromReceipt?: boolean;
}

/** A field of an incoming record that was not understood: the record is kept without it. */
export interface FieldWarning {
  field: string;
  message: string;
  hint?: string;
}

/** A contact change as it arrives (import, identify call), before it is merged into the store. */
export interface IncomingContact {
  email: string;
  properties: Record<string, FieldValue>;
  tags?: string[];
  consent?: ConsentStatus;
  externalIds?: ExternalIds;
  source: ValueSource;
  /** Epoch milliseconds of the change; defaults to now. */
  time?: number;
  /**
   * When the source says the consent was given (an import record's own `time`, an identify call's
   * timestamp). Without it the consent is undated: it may opt a contact out, never lift an opt-out.
   */
  consentAt?: number;
  /** When the contact was created at its source (epoch ms): sets the contact's creation time, which rules read as `created_at`. */
  createdAt?: number;
  /** Fields that were not understood and were left out (the rest of the record is kept). */
  warnings?: FieldWarning[];
}
