/**
 * Local checks of a change before it is sent, so one bad profile fails alone with a clear reason
 * instead of sinking a whole bulk job (Klaviyo rejects a bulk import when one profile is invalid).
 */
import type { FieldValue } from '../../src/model/types';
import { EMAIL_KEY } from '../connector';
import type { ContactChange } from '../connector';
import { PROFILE_MAX_BYTES } from './limits';
import { placeOf } from './fields';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const E164 = /^\+[1-9]\d{6,14}$/;

/** A reason a change cannot be sent, with what to do. */
export interface ChangeProblem {
  message: string;
  hint: string;
}

/** Validates one value for one ESP field; undefined when it is acceptable. */
export function fieldValueProblem(field: string, value: FieldValue, tagProperty: string): ChangeProblem | undefined {
  if (field === tagProperty) {
    return { message: `field "${field}" is the tag property`, hint: 'tags are written through addTags/removeTags; map the field to another Klaviyo property' };
  }
  const where = placeOf(field);
  if (where.place === 'email') return { message: 'the email is set from the contact, not as a field', hint: 'remove "email" from the Klaviyo mapping' };
  if (where.place === 'property') {
    if (where.key.trim() === '' || where.key.startsWith('$')) {
      return { message: `property name "${field}" is not allowed`, hint: 'Klaviyo reserves names starting with "$"; rename the mapped property' };
    }
    return undefined;
  }
  if (value === null) return undefined;
  const kind = where.place === 'attribute' ? where.spec.kind : where.kind;
  const ok = kind === 'string' ? typeof value === 'string' : typeof value === 'number' || typeof value === 'string';
  if (!ok)
    return {
      message: `field "${field}" needs a ${kind === 'string' ? 'string' : 'number'}, got ${JSON.stringify(value)}`,
      hint: 'map a text field to it, or map the value to a custom property',
    };
  if (field === 'phone_number' && !E164.test(value as string)) {
    return { message: `phone_number "${String(value)}" is not in E.164 format`, hint: 'write phone numbers as +<country><number>, e.g. +14155550100' };
  }
  return undefined;
}

/** Validates a whole change; `payloadBytes` is the size of the profile as it will be sent. */
export function changeProblem(change: ContactChange, tagProperty: string, payloadBytes: number): ChangeProblem | undefined {
  if (!change.ref.email && !change.ref.externalId) {
    return { message: 'the contact has neither an email nor a Klaviyo id', hint: 'give the contact an email' };
  }
  if (change.ref.email && !EMAIL.test(change.ref.email)) {
    return { message: `email "${change.ref.email}" is not a valid address`, hint: "fix the contact's email locally; Klaviyo would reject it" };
  }
  if (EMAIL_KEY in change.set && !change.ref.externalId) {
    return {
      message: 'an email change needs the Klaviyo profile id',
      hint: 'run `segsync pull --esp klaviyo` so segsync learns the profile id, then push again',
    };
  }
  for (const [field, value] of Object.entries(change.set)) {
    // The email change rides on `attributes.email` of a PATCH by profile id (toSdkProfile).
    if (field === EMAIL_KEY) continue;
    const problem = fieldValueProblem(field, value, tagProperty);
    if (problem) return problem;
  }
  for (const field of change.clear) {
    const problem = fieldValueProblem(field, null, tagProperty);
    if (problem) return problem;
  }
  for (const tag of [...change.addTags, ...change.removeTags]) {
    if (tag.trim() === '') return { message: 'an empty tag name', hint: 'remove the empty tag from the segment or import' };
  }
  if (payloadBytes > PROFILE_MAX_BYTES) {
    return {
      message: `the profile is ${payloadBytes} bytes; Klaviyo accepts at most ${PROFILE_MAX_BYTES}`,
      hint: 'map fewer or smaller properties to Klaviyo',
    };
  }
  return undefined;
}
