/** Process exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed (an ESP refused, records were rejected, a check found problems). */
  failed: 1,
  /** The command was called wrongly (unknown option, missing argument, invalid config). */
  usage: 2,
} as const;
