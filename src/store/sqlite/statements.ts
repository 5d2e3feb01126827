/** Prepared statements by their SQL, prepared once per connection and cache. */
import type { Database as Db, Statement } from 'better-sqlite3';

export class StatementCache {
  private readonly stmts = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  /** The statement for `sql`, prepared on first use. */
  get(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }
}
