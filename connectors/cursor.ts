/**
 * Pull cursors, declared: each connector describes its cursor with a zod schema that carries a
 * version (`v`), and this one codec reads and writes them all. A stored cursor that does not match
 * (written by another segsync version, or damaged) is a named error that says how to start over.
 */
import type { z } from 'zod';
import { ValidationError } from '../src/errors';
import type { EspName } from '../src/model/types';
import type { Cursor } from './connector';

/** Reads and writes one kind of cursor. */
export interface CursorCodec<T> {
  /** The stored cursor, or undefined when there is none (the next pull is a full one). */
  decode(raw: Cursor | undefined): T | undefined;
  encode(value: T): Cursor;
}

/** The codec of a connector's cursor kind (`what`: "contacts", "events"). */
export function declareCursor<S extends z.ZodType<{ v: number }>>(esp: EspName, what: string, schema: S): CursorCodec<z.output<S>> {
  return {
    decode(raw) {
      if (raw === undefined || raw === '') return undefined;
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        json = undefined;
      }
      const parsed = schema.safeParse(json);
      if (parsed.success) return parsed.data;
      throw new ValidationError(`${esp}: the stored ${what} pull cursor is not one segsync wrote: ${JSON.stringify(raw).slice(0, 80)}`, {
        hint: `run \`segsync pull --reset ${esp}\`: it forgets the cursor and reads ${esp} whole again`,
      });
    },
    encode: (value) => JSON.stringify(value),
  };
}
