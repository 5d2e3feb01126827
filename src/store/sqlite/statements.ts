/** Prepared statements by their SQL, prepared once per connection and cache. */
import type { Database as Db, Statement } from 'better-sqlite3';

export class StatementCache {
  private readonly stmts = new Map<string, Statement>();

  /** `onWriteError` turns what a writing statement throws into the error to raise (a full disk, say). */
  constructor(
    private readonly db: Db,
    private readonly onWriteError?: (err: unknown) => unknown,
  ) {}

  /** The statement for `sql`, prepared on first use. */
  get(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (!s.reader && this.onWriteError) guardRun(s, this.onWriteError);
      this.stmts.set(sql, s);
    }
    return s;
  }
}

/** Makes `run` raise what `onError` makes of its failures: writes outside a transaction fail typed too. */
function guardRun(s: Statement, onError: (err: unknown) => unknown): void {
  const run = s.run.bind(s);
  s.run = (...params: unknown[]) => {
    try {
      return run(...params);
    } catch (err) {
      throw onError(err);
    }
  };
}
