/**
 * Date formatting in the vendors' own format languages: PHP `date()` letters (Mailchimp `*|DATE:|*`,
 * Mandrill `{{date}}`), Django's `date` filter letters (Klaviyo), SendGrid's moment-style tokens and
 * strftime (Klaviyo `{% today %}`). Hand-written because no maintained package covers the PHP and
 * Django letter sets; all formatting is in UTC so previews are reproducible.
 */
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const AP_MONTHS = ['Jan.', 'Feb.', 'March', 'April', 'May', 'June', 'July', 'Aug.', 'Sept.', 'Oct.', 'Nov.', 'Dec.'];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function ordinal(n: number): string {
  if (n % 100 >= 11 && n % 100 <= 13) return 'th';
  return n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th';
}

function dayOfYear(d: Date): number {
  return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000);
}

function isoWeek(d: Date): { week: number; year: number } {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return { week: Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7), year: t.getUTCFullYear() };
}

function letter(d: Date, c: string, flavor: 'php' | 'django'): string | undefined {
  const h = d.getUTCHours();
  const h12 = h % 12 || 12;
  const Y = d.getUTCFullYear();
  const leap = (Y % 4 === 0 && Y % 100 !== 0) || Y % 400 === 0;
  switch (c) {
    case 'd':
      return pad(d.getUTCDate());
    case 'D':
      return DAYS[d.getUTCDay()]!.slice(0, 3);
    case 'j':
      return String(d.getUTCDate());
    case 'l':
      return DAYS[d.getUTCDay()]!;
    case 'N':
      return flavor === 'django' ? AP_MONTHS[d.getUTCMonth()]! : String(d.getUTCDay() || 7);
    case 'S':
      return ordinal(d.getUTCDate());
    case 'w':
      return String(d.getUTCDay());
    case 'z':
      return String(dayOfYear(d) + (flavor === 'django' ? 1 : 0));
    case 'W':
      return flavor === 'django' ? String(isoWeek(d).week) : pad(isoWeek(d).week);
    case 'F':
      return MONTHS[d.getUTCMonth()]!;
    case 'm':
      return pad(d.getUTCMonth() + 1);
    case 'M':
      return MONTHS[d.getUTCMonth()]!.slice(0, 3);
    case 'b':
      return flavor === 'django' ? MONTHS[d.getUTCMonth()]!.slice(0, 3).toLowerCase() : undefined;
    case 'E':
      return flavor === 'django' ? MONTHS[d.getUTCMonth()]! : undefined;
    case 'n':
      return String(d.getUTCMonth() + 1);
    case 't':
      return String(new Date(Date.UTC(Y, d.getUTCMonth() + 1, 0)).getUTCDate());
    case 'L':
      return flavor === 'django' ? (leap ? 'True' : 'False') : leap ? '1' : '0';
    case 'o':
      return String(isoWeek(d).year);
    case 'Y':
      return String(Y);
    case 'y':
      return pad(Y % 100);
    case 'a':
      return flavor === 'django' ? (h < 12 ? 'a.m.' : 'p.m.') : h < 12 ? 'am' : 'pm';
    case 'A':
      return h < 12 ? 'AM' : 'PM';
    case 'g':
      return String(h12);
    case 'G':
      return String(h);
    case 'h':
      return pad(h12);
    case 'H':
      return pad(h);
    case 'i':
      return pad(d.getUTCMinutes());
    case 's':
      return pad(d.getUTCSeconds());
    case 'u':
      return pad(d.getUTCMilliseconds() * 1000, 6);
    case 'v':
      return pad(d.getUTCMilliseconds(), 3);
    case 'e':
      return 'UTC';
    case 'T':
      return 'UTC';
    case 'O':
      return '+0000';
    case 'P':
      if (flavor === 'php') return '+00:00';
      if (d.getUTCMinutes() === 0 && (h === 0 || h === 12)) return h === 0 ? 'midnight' : 'noon';
      return `${h12}${d.getUTCMinutes() ? `:${pad(d.getUTCMinutes())}` : ''} ${h < 12 ? 'a.m.' : 'p.m.'}`;
    case 'f':
      return flavor === 'django' ? `${h12}${d.getUTCMinutes() ? `:${pad(d.getUTCMinutes())}` : ''}` : undefined;
    case 'Z':
      return '0';
    case 'c':
      return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
    case 'r':
      return `${DAYS[d.getUTCDay()]!.slice(0, 3)}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]!.slice(0, 3)} ${Y} ${pad(h)}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
    case 'U':
      return String(Math.floor(d.getTime() / 1000));
    default:
      return undefined;
  }
}

/** Formats with PHP `date()` letters (`php`) or Django `date` filter letters (`django`); `\x` is a literal x. */
export function formatLetters(d: Date, format: string, flavor: 'php' | 'django'): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c === '\\' && i + 1 < format.length) {
      out += format[++i];
      continue;
    }
    out += letter(d, c, flavor) ?? c;
  }
  return out;
}

/** Formats with strftime directives (`%Y-%m-%d`). */
export function strftime(d: Date, format: string): string {
  return format.replace(/%([a-zA-Z%])/g, (m, c: string) => {
    const map: Record<string, string> = {
      Y: String(d.getUTCFullYear()),
      y: pad(d.getUTCFullYear() % 100),
      m: pad(d.getUTCMonth() + 1),
      d: pad(d.getUTCDate()),
      e: String(d.getUTCDate()),
      H: pad(d.getUTCHours()),
      I: pad(d.getUTCHours() % 12 || 12),
      M: pad(d.getUTCMinutes()),
      S: pad(d.getUTCSeconds()),
      p: d.getUTCHours() < 12 ? 'AM' : 'PM',
      B: MONTHS[d.getUTCMonth()]!,
      b: MONTHS[d.getUTCMonth()]!.slice(0, 3),
      A: DAYS[d.getUTCDay()]!,
      a: DAYS[d.getUTCDay()]!.slice(0, 3),
      j: pad(dayOfYear(d) + 1, 3),
      Z: 'UTC',
      z: '+0000',
      '%': '%',
    };
    return map[c] ?? m;
  });
}

/** Formats with moment-style tokens, as SendGrid's `formatDate` documents them; `offset` is `+HHMM`/`-HHMM`. */
export function formatMoment(input: Date, format: string, offset?: string): string {
  let minutes = 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(offset ?? '');
  if (m) minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  const d = new Date(input.getTime() + minutes * 60000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const tz = `${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
  const h = d.getUTCHours();
  const tokens: Record<string, string> = {
    YYYY: String(d.getUTCFullYear()),
    YY: pad(d.getUTCFullYear() % 100),
    MMMM: MONTHS[d.getUTCMonth()]!,
    MMM: MONTHS[d.getUTCMonth()]!.slice(0, 3),
    MM: pad(d.getUTCMonth() + 1),
    M: String(d.getUTCMonth() + 1),
    DD: pad(d.getUTCDate()),
    D: String(d.getUTCDate()),
    dddd: DAYS[d.getUTCDay()]!,
    ddd: DAYS[d.getUTCDay()]!.slice(0, 3),
    hh: pad(h % 12 || 12),
    h: String(h % 12 || 12),
    HH: pad(h),
    H: String(h),
    mm: pad(d.getUTCMinutes()),
    m: String(d.getUTCMinutes()),
    ss: pad(d.getUTCSeconds()),
    s: String(d.getUTCSeconds()),
    A: h < 12 ? 'AM' : 'PM',
    ZZ: `${sign}${tz}`,
    Z: `${sign}${tz.slice(0, 2)}:${tz.slice(2)}`,
  };
  return format.replace(/YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd|ddd|hh|h|HH|H|mm|m|ss|s|A|ZZ|Z/g, (t) => tokens[t] ?? t);
}

/** A Date from epoch (seconds below 1e11, else milliseconds), an ISO string or a Date; undefined if invalid. */
export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === 'number') return new Date(v < 1e11 ? v * 1000 : v);
  if (typeof v === 'string' && v.trim()) {
    if (/^\d+$/.test(v.trim())) return toDate(Number(v));
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v.trim()) ? `${v.trim()}T00:00:00Z` : v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** The "now" of a render: the context's `__now` (set from a scenario's `now`) or the wall clock. */
export function renderNow(context: Record<string, unknown>): Date {
  return toDate(context.__now) ?? new Date();
}
