/**
 * Decides, for one field, whether a value an ESP reports replaces the local one. Pure: the inbound
 * side records the decision so `explain` can show why a value won.
 */
import type { FieldConfig } from '../config/schema';
import type { EspName, PropertyValue } from '../model/types';
import { isEmpty, sameValue } from './values';
import type { FieldValue } from '../model/types';

export interface ConflictInput {
  field: FieldConfig;
  esp: EspName;
  local: PropertyValue | undefined;
  remote: FieldValue;
  /** The ESP's modification time of the remote value, epoch ms. */
  remoteAt: number;
}

export interface ConflictDecision {
  /** Take the ESP's value locally. */
  takeRemote: boolean;
  /** Who won: `local` or the ESP name. */
  winner: string;
  reason: string;
  /** True when both sides held different, non-empty values: worth recording. */
  conflict: boolean;
}

/** The conflict policy of segsync.yaml applied to one field. */
export function decide(input: ConflictInput): ConflictDecision {
  const { field, esp, local, remote, remoteAt } = input;
  if (local === undefined || isEmpty(local.value)) {
    return { takeRemote: true, winner: esp, reason: 'local value was empty: filled from the ESP', conflict: false };
  }
  if (sameValue(local.value, remote)) return { takeRemote: false, winner: 'local', reason: 'same value', conflict: false };
  const localOwner = local.source === 'rule' ? 'local' : local.source;
  if (field.conflict === 'latest') {
    if (remoteAt > local.updatedAt)
      return {
        takeRemote: true,
        winner: esp,
        reason: `latest wins: ${esp} changed it at ${iso(remoteAt)}, after the local value (${iso(local.updatedAt)})`,
        conflict: true,
      };
    if (remoteAt < local.updatedAt)
      return {
        takeRemote: false,
        winner: localOwner,
        reason: `latest wins: the local value (${iso(local.updatedAt)}) is newer than ${esp}'s (${iso(remoteAt)})`,
        conflict: true,
      };
    const ownerIsEsp = field.owner === esp;
    return {
      takeRemote: ownerIsEsp,
      winner: ownerIsEsp ? esp : localOwner,
      reason: `same time on both sides: the owner (${field.owner}) breaks the tie`,
      conflict: true,
    };
  }
  if (field.owner === esp) return { takeRemote: true, winner: esp, reason: `${esp} owns this field`, conflict: true };
  return { takeRemote: false, winner: field.owner, reason: `${field.owner} owns this field; ${esp}'s value is overwritten on the next push`, conflict: true };
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
