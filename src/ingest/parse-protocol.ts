import type { FieldShape } from '../config/field-values';
import type { SourceLocation } from '../errors';
import type { IncomingContact } from '../model/types';
import type { EventColumns } from './event-columns';
import type { ImportKind } from './readers';

/** What an import worker is started with. */
export interface WorkerInput {
  file: string;
  kind: ImportKind;
  batchSize: number;
  /** Time given to imported contact changes, epoch ms. */
  now: number;
  /** segsync.yaml's declared fields: a contact's value that does not fit its field's type is left out. */
  fields?: Record<string, FieldShape>;
  /**
   * Set when several workers share a JSON-lines file: this one parses byte ranges `first`,
   * `first + step`, … of `rangeBytes` each. Without it, the worker reads the whole file in order.
   */
  ranges?: { rangeBytes: number; first: number; step: number; fileBytes: number };
}

/**
 * One batch of parsed records from one range of the file (the whole file is range 0). Line numbers
 * count from the range's start; the main thread, which applies ranges in order, makes them absolute.
 */
export interface ParsedBatch {
  range: number;
  /** The range's last batch; then `rangeLines` is how many lines (blank ones too) the range held. */
  lastOfRange: boolean;
  rangeLines: number;
  read: number;
  /** Bytes of the file this batch accounts for. */
  bytes: number;
  /** `lines[i]` is the line of the i-th event or contact. */
  lines: Int32Array;
  events: EventColumns | undefined;
  contacts: IncomingContact[];
  rejects: { line: number; error: string; text: string }[];
}

/** Why a worker stopped: the file's own fault (`invalid`: its message, hint and place as the worker had them), or reading it failed. */
export interface WorkerFailure {
  type: 'error';
  message: string;
  invalid?: { hint?: string; location?: SourceLocation };
}

export type WorkerMessage = { type: 'batch'; batch: ParsedBatch } | { type: 'done' } | WorkerFailure;
