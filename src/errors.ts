/**
 * The one error hierarchy of segsync. Every error carries a stable `code`, a message that says what is
 * wrong, and a `hint` that says what to do. Whether to retry follows from the class, never from text.
 */

/** Where in a file an error was found (1-based line and column). */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

/** Formats a location as `file:line:col`, leaving out what is unknown. */
export function formatLocation(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  return s;
}

export interface SegsyncErrorOptions {
  hint?: string;
  cause?: unknown;
  location?: SourceLocation;
}

/** Base class: a typed error with a code and a hint for the user. */
export class SegsyncError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;
  /** True when trying the same operation again later may succeed. */
  readonly retryable: boolean = false;

  constructor(code: string, message: string, options: SegsyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.location = options.location;
  }

  /** The message as a user should read it: location, message, then the hint. */
  describe(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    const hint = this.hint ? `\n  hint: ${this.hint}` : '';
    return `${where}${this.message}${hint}`;
  }
}

/** segsync.yaml (or another config file) is invalid. */
export class ConfigError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_CONFIG', message, options);
  }
}

/** A command was called with bad arguments or options (exit code 2). */
export class UsageError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_USAGE', message, options);
  }
}

/** One input record (a line of an import file, a webhook body, an API payload) is invalid. */
export class ValidationError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_VALIDATION', message, options);
  }
}

/**
 * An ESP refuses the values of some fields of a contact's change (a value its field type or options
 * do not allow): those are named by the change's keys, and the change's other writes can go without them.
 */
export class FieldValueError extends ValidationError {
  constructor(
    message: string,
    /** The refused keys, as the change names them (the ESP's field names). */
    readonly keys: string[],
    options: SegsyncErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** The local store failed or is in a state segsync cannot use. */
export class StoreError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}, code = 'E_STORE') {
    super(code, message, options);
  }
}

/** The disk that holds the store has no room left: writes fail, whole, until space is freed. */
export class StoreFullError extends StoreError {
  override readonly retryable = true;
  /** The folder of the store file, on the full disk. */
  readonly folder: string;
  constructor(message: string, options: SegsyncErrorOptions & { folder: string }) {
    super(message, options, 'E_STORE_FULL');
    this.folder = options.folder;
  }
}

/** A segment rule does not parse or type-check. */
export class RuleError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_RULE', message, options);
  }
}

/** A template does not parse or render. */
export class TemplateError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_TEMPLATE', message, options);
  }
}

/** A webhook failed verification (signature, secret, timestamp) or could not be parsed. */
export class WebhookError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_WEBHOOK', message, options);
  }
}

export interface EspErrorOptions extends SegsyncErrorOptions {
  esp: string;
  status?: number;
  vendorCode?: string;
  /** When the ESP said to come back, ms from now, if it did. */
  retryAfterMs?: number;
}

/**
 * Base of every error an ESP (or the way to it) caused: which ESP, the HTTP status and vendor code when
 * there was an answer, and when the ESP said to come back. Whether to retry follows from the subclass.
 */
export abstract class EspError extends SegsyncError {
  readonly esp: string;
  readonly status: number | undefined;
  readonly vendorCode: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, options: EspErrorOptions) {
    super(code, message, options);
    this.esp = options.esp;
    this.status = options.status;
    this.vendorCode = options.vendorCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** An ESP answered with an error that will not go away by retrying (validation, consent, not found). */
export class EspPermanentError extends EspError {
  constructor(message: string, options: EspErrorOptions) {
    super('E_ESP_PERMANENT', message, options);
  }
}

/**
 * The ESP holds no record under the id segsync linked the contact to: deleted there (or, for an ESP
 * that reports no deletions, an API key of another account). Nothing was written; the link is cut.
 */
export class EspRecordGoneError extends EspError {
  constructor(message: string, options: EspErrorOptions) {
    super('E_ESP_GONE', message, options);
  }
}

/** An ESP or the network failed in a way that may pass (5xx, timeout, connection reset). */
export class EspTransientError extends EspError {
  override readonly retryable = true;
  constructor(message: string, options: EspErrorOptions) {
    super('E_ESP_TRANSIENT', message, options);
  }
}

/**
 * An earlier write to the same record is still under way at the ESP (a queued batch job segsync
 * stopped waiting for): the newer write waits for it, or the older values could land last. Like a
 * rate limit, waiting is not a failed attempt.
 */
export class EspBusyError extends EspTransientError {}

/** An ESP rate limit was hit; `retryAfterMs` says when to come back. */
export class EspRateLimitError extends EspError {
  override readonly retryable = true;
  declare readonly retryAfterMs: number;
  /** A daily (or other long) budget is spent: wait for the reset instead of retrying soon. */
  readonly budgetExhausted: boolean;
  constructor(message: string, options: EspErrorOptions & { retryAfterMs: number; budgetExhausted?: boolean }) {
    super('E_ESP_RATE_LIMIT', message, options);
    this.budgetExhausted = options.budgetExhausted ?? false;
  }
}

/** Credentials are missing or rejected by the ESP. */
export class EspAuthError extends EspError {
  constructor(message: string, options: EspErrorOptions) {
    super('E_ESP_AUTH', message, options);
  }
}

/**
 * Anything a connector caught, as a typed error. An error of unknown kind (a plain `Error` from an SDK,
 * a socket, a parser) is transient: it is retried, and the outbox counts every retry as an attempt and
 * dead-letters the operation after its last one, so a bug cannot loop and a passing glitch (a reset
 * connection the SDK did not classify) loses no write. Declaring it permanent would dead-letter valid
 * changes on the first glitch.
 */
export function asEspError(err: unknown, esp: string): SegsyncError {
  if (err instanceof SegsyncError) return err;
  return new EspTransientError(`${esp}: ${err instanceof Error ? err.message : String(err)}`, { esp, cause: err });
}

/** When the ESP said to come back, if the error carries it. */
export function retryAfterOf(err: unknown): number | undefined {
  return err instanceof EspError ? err.retryAfterMs : undefined;
}

/** A push would strip an owned tag or field from too many of the contacts that carry it: it needs `--force`. */
export class SafetyValveError extends SegsyncError {
  constructor(message: string, options: SegsyncErrorOptions = {}) {
    super('E_SAFETY_VALVE', message, options);
  }
}

/** True for errors where trying again later can succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof SegsyncError && err.retryable;
}

/** Turns anything thrown into a one-paragraph message for the user. */
export function describeError(err: unknown): string {
  if (err instanceof SegsyncError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
