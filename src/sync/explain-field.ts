/**
 * `segsync explain EMAIL FIELD`: for one contact and one mapped field (or `email`), the local value
 * with its change time and source, what each ESP holds with its change time and what segsync last
 * pushed there, the link to each ESP's record, the conflict policy, and every decision taken on it.
 */
import type { FieldConfig } from '../config/schema';
import type { EspName, FieldValue } from '../model/types';
import { IDENTITY_DECISION } from '../store/identities';
import type { Decision, Store } from '../store/store';
import { EMAIL_KEY } from './identity-travel';
import { isUnlinked, LINK_FIELD } from './links';
import type { SyncMapping } from './mapping';

export interface EspFieldView {
  esp: EspName;
  /** The ESP's field name (`@email` for the email). */
  remote: string;
  direction: 'in' | 'out' | 'both';
  /** What the ESP holds as segsync last saw it (undefined: never seen). */
  value: FieldValue | undefined;
  /** The field's change time on the ESP, epoch ms. */
  changedAt: number | undefined;
  /** The last value segsync pushed that still guards against its own echo. */
  pushed: FieldValue | undefined;
  /** The contact's record id on the ESP. */
  externalId: string | undefined;
  /** The ESP archived or deleted the record: segsync does not write there. */
  unlinked: boolean;
  /** Operations queued for this field on this ESP. */
  queued: { op: string; value: FieldValue | undefined; attempts: number; lastError: string | undefined }[];
}

export interface FieldExplanation {
  email: string;
  field: string;
  policy: string;
  local: { value: FieldValue; changedAt: number; source: string } | undefined;
  esps: EspFieldView[];
  /** Decisions on the field (and on the record links), oldest first. */
  decisions: Decision[];
}

/** The local field names `explain` accepts: mapped fields, and `email`. */
export function explainableFields(mapping: SyncMapping): string[] {
  const names = new Set<string>(['email']);
  for (const m of mapping.perEsp.values()) for (const f of m.fields) names.add(f.local);
  return [...names];
}

function policyOf(field: FieldConfig | undefined): string {
  if (!field) return 'the contact identity: an email changed on an ESP is followed and sent to the others';
  return field.conflict === 'latest' ? `latest change wins (ties: ${field.owner})` : `${field.owner} owns the field`;
}

/** Builds the explanation, or undefined when the contact does not exist. */
export function explainField(store: Store, mapping: SyncMapping, email: string, field: string): FieldExplanation | undefined {
  const contact = store.findContactByEmail(email);
  if (!contact) return undefined;
  const isEmail = field === 'email';
  let config: FieldConfig | undefined;
  const esps: EspFieldView[] = [];
  for (const [esp, m] of mapping.perEsp) {
    const link = isEmail ? undefined : m.fields.find((f) => f.local === field);
    if (!isEmail && !link) continue;
    config ??= link?.field;
    const key = link ? link.remote : EMAIL_KEY;
    const state = store.getSyncState(contact.id, esp);
    const row = state.find((s) => s.key === key);
    esps.push({
      esp,
      remote: key,
      direction: !link ? 'both' : link.in && link.out ? 'both' : link.in ? 'in' : 'out',
      value: row?.remoteValue,
      changedAt: row?.remoteModifiedAt,
      pushed: row?.pushedValue,
      externalId: contact.externalIds[esp],
      unlinked: isUnlinked(state),
      queued: store
        .pendingOutbox(esp, contact.id)
        .filter((p) => p.key === key)
        .map((p) => ({ op: p.op, value: p.value, attempts: p.attempts, lastError: p.lastError ?? undefined })),
    });
  }
  const prop = contact.properties[field];
  const local = isEmail
    ? { value: contact.email, changedAt: contact.updatedAt, source: 'local' }
    : prop
      ? { value: prop.value, changedAt: prop.updatedAt, source: prop.source }
      : undefined;
  const identity = isEmail ? store.decisionsFor(contact.id, IDENTITY_DECISION) : [];
  const decisions = [...store.decisionsFor(contact.id, isEmail ? EMAIL_KEY : field), ...store.decisionsFor(contact.id, LINK_FIELD), ...identity].sort(
    (a, b) => a.at - b.at,
  );
  return { email: contact.email, field, policy: policyOf(config), local, esps, decisions };
}

function show(v: FieldValue | undefined): string {
  if (v === undefined) return '(never seen)';
  if (v === null || v === '') return '(empty)';
  return JSON.stringify(v);
}

function when(t: number | undefined): string {
  return t === undefined ? '' : ` (changed ${new Date(t).toISOString()})`;
}

/** The explanation as text for a terminal. */
export function renderFieldExplanation(x: FieldExplanation): string {
  const lines = [
    `${x.email} · ${x.field}`,
    `  policy: ${x.policy}`,
    `  local: ${x.local ? `${show(x.local.value)}${when(x.local.changedAt)} from ${x.local.source}` : '(no value)'}`,
  ];
  for (const e of x.esps) {
    const link = e.unlinked ? ' [unlinked: archived or deleted there, not written]' : e.externalId ? ` [record ${e.externalId}]` : ' [no record yet]';
    lines.push(`  ${e.esp} ${e.remote} (${e.direction}): ${show(e.value)}${when(e.changedAt)}${link}`);
    if (e.pushed !== undefined) lines.push(`    last pushed by segsync: ${show(e.pushed)}`);
    for (const q of e.queued)
      lines.push(
        `    queued: ${q.op}${q.value !== undefined ? ` ${show(q.value)}` : ''}${q.attempts ? `, ${q.attempts} attempt(s)` : ''}${q.lastError ? `, last error: ${q.lastError}` : ''}`,
      );
  }
  lines.push(x.decisions.length ? '  decisions:' : '  decisions: none recorded');
  for (const d of x.decisions) lines.push(`    ${new Date(d.at).toISOString()}  ${d.winner} won: ${d.reason}`);
  return lines.join('\n');
}
