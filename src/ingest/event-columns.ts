/**
 * A batch of parsed events laid out column by column for the trip from the parse worker to the
 * store's thread. Structured clone rebuilds row objects one property at a time; a few arrays of
 * strings and numbers cross several times faster, which matters at a million events per import.
 */
import type { EventRow } from '../store/store';

export interface EventColumns {
  eventIds: string[];
  emails: string[];
  /** The batch's distinct event names; `nameCodes[i]` is the index of event i's name. */
  names: string[];
  nameCodes: Int32Array;
  times: Float64Array;
  propertiesJson: string[];
  source: EventRow['source'];
}

/** Collects rows, all from one source, into columns. */
export class EventColumnsBuilder {
  private eventIds: string[] = [];
  private emails: string[] = [];
  private nameIndex = new Map<string, number>();
  private nameCodes: number[] = [];
  private times: number[] = [];
  private propertiesJson: string[] = [];

  constructor(private readonly source: EventRow['source']) {}

  get length(): number {
    return this.eventIds.length;
  }

  push(row: Omit<EventRow, 'source'>): void {
    let code = this.nameIndex.get(row.name);
    if (code === undefined) {
      code = this.nameIndex.size;
      this.nameIndex.set(row.name, code);
    }
    this.eventIds.push(row.eventId);
    this.emails.push(row.email);
    this.nameCodes.push(code);
    this.times.push(row.time);
    this.propertiesJson.push(row.propertiesJson);
  }

  /** The columns gathered so far; the builder starts empty again. */
  take(): EventColumns {
    const columns: EventColumns = {
      eventIds: this.eventIds,
      emails: this.emails,
      names: [...this.nameIndex.keys()],
      nameCodes: Int32Array.from(this.nameCodes),
      times: Float64Array.from(this.times),
      propertiesJson: this.propertiesJson,
      source: this.source,
    };
    this.eventIds = [];
    this.emails = [];
    this.nameIndex = new Map();
    this.nameCodes = [];
    this.times = [];
    this.propertiesJson = [];
    return columns;
  }
}

/** The buffers a postMessage can hand over instead of copying. */
export function transferablesOf(columns: EventColumns): ArrayBuffer[] {
  return [columns.nameCodes.buffer as ArrayBuffer, columns.times.buffer as ArrayBuffer];
}

/** The rows again, in order. */
export function rowsOf(columns: EventColumns): EventRow[] {
  const rows: EventRow[] = new Array(columns.eventIds.length);
  for (let i = 0; i < rows.length; i++) {
    rows[i] = {
      eventId: columns.eventIds[i]!,
      email: columns.emails[i]!,
      name: columns.names[columns.nameCodes[i]!]!,
      time: columns.times[i]!,
      propertiesJson: columns.propertiesJson[i]!,
      source: columns.source,
    };
  }
  return rows;
}
