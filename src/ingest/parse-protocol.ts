import type { IncomingContact } from '../model/types';
import type { EventColumns } from './event-columns';

/** What the import worker is started with. */
export interface WorkerInput {
  file: string;
  kind: 'contacts' | 'events';
  batchSize: number;
  /** Time given to imported contact changes, epoch ms. */
  now: number;
}

/** One batch of parsed records; `lines[i]` is the line of the i-th event or contact. */
export interface ParsedBatch {
  read: number;
  /** Bytes of the file read so far. */
  bytes: number;
  lines: Int32Array;
  events: EventColumns | undefined;
  contacts: IncomingContact[];
  rejects: { line: number; error: string; text: string }[];
}

export type WorkerMessage = { type: 'batch'; batch: ParsedBatch } | { type: 'done' } | { type: 'error'; message: string };
