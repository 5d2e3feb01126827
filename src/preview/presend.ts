/**
 * The checks a sender runs last, on the rendered HTML: images without `alt`, links without the
 * campaign's tracking parameters, and the line a mail client lists for the message (from, subject,
 * preheader). Written over the tags with regular expressions, as `badLinks` is: segsync has no HTML
 * parser among its dependencies, and these checks read only tag attributes of HTML the dialects and
 * juice produced.
 */

/** The `src` of every `<img>` with no `alt` attribute (`alt=""` marks a decorative image and is fine). */
export function imagesWithoutAlt(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/<img\b([^>]*)>/gi)) {
    const attrs = m[1] ?? '';
    if (/\salt\s*=/i.test(` ${attrs}`)) continue;
    out.push(
      /\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i
        .exec(` ${attrs}`)
        ?.slice(1)
        .find((x) => x !== undefined) ?? '(no src)',
    );
  }
  return out;
}

const ENTITY: Record<string, string> = { amp: '&', quot: '"', '#39': "'", apos: "'", lt: '<', gt: '>' };
const unescapeAttr = (s: string): string => s.replace(/&(amp|quot|#39|apos|lt|gt);/g, (_m, e: string) => ENTITY[e] ?? _m);

/** Links a sender does not tag: unsubscribe and preference links, view-in-browser, the ESP's reserved hosts. */
function isSystemLink(url: URL, anchor: string): boolean {
  return url.hostname.endsWith('.invalid') || /unsubscribe|preferences|opt[-_ ]?out|view[-_ ]?(in|as|online)|web[-_ ]?view/i.test(`${url.pathname} ${anchor}`);
}

/** Each http(s) link missing one of the `required` query parameters (or carrying it empty), with what it misses. */
export function linksMissingParams(html: string, required: readonly string[]): { href: string; missing: string[] }[] {
  if (required.length === 0) return [];
  const out = new Map<string, string[]>();
  for (const m of html.matchAll(/<a\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>([\s\S]*?)<\/a>/gi)) {
    const href = unescapeAttr((m[1] ?? m[2] ?? '').trim());
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      continue;
    }
    if (!/^https?:$/.test(url.protocol) || isSystemLink(url, m[3] ?? '')) continue;
    const missing = required.filter((p) => !url.searchParams.get(p));
    if (missing.length) out.set(href, missing);
  }
  return [...out].map(([href, missing]) => ({ href, missing }));
}

/** Characters of preheader most inboxes show beside the subject: about one line on a phone. */
export const PREHEADER_VISIBLE = 90;

/** How a mail client lists the message. */
export interface InboxLine {
  from: string | undefined;
  subject: string | undefined;
  /** The preheader as written (front matter), or undefined. */
  preheader: string | undefined;
  /** What the client shows after the subject: the preheader, then the body's first text, cut at PREHEADER_VISIBLE. */
  shown: string;
  /** Characters of the written preheader; clients fill a short one with the body's first words. */
  preheaderChars: number;
  /** The shown text starts with body text, not a written preheader. */
  fromBody: boolean;
}

const TEXT_ENTITY: Record<string, string> = { ...ENTITY, nbsp: ' ', zwnj: '', '#8204': '', '#847': '', '#160': ' ', shy: '' };

/**
 * The text a mail client takes its snippet from: the body's text in document order, including hidden
 * elements (the usual hidden-preheader `<div style="display:none">` is exactly what clients show), and
 * without the zero-width padding senders put after a preheader.
 */
export function snippetText(html: string): string {
  return html
    .replace(/<head\b[\s\S]*?<\/head>|<style\b[\s\S]*?<\/style>|<script\b[\s\S]*?<\/script>|<!--[\s\S]*?-->/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&(#?\w+);/g, (m, e: string) => TEXT_ENTITY[e] ?? m)
    .replace(/[\u200b-\u200d\u00ad\ufeff]|\u034f/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The inbox line for one rendered message (`html` is its final HTML). */
export function inboxLine(from: string | undefined, subject: string | undefined, preheader: string | undefined, html: string): InboxLine {
  const bodyText = snippetText(html);
  const written = preheader?.trim() ?? '';
  const joined = written ? `${written} ${bodyText}` : bodyText;
  const shown = joined.length > PREHEADER_VISIBLE ? `${joined.slice(0, PREHEADER_VISIBLE - 1).trimEnd()}…` : joined;
  return { from, subject, preheader: written || undefined, shown, preheaderChars: [...written].length, fromBody: !written };
}
