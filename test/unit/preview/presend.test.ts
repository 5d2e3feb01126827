import { PREHEADER_VISIBLE, imagesWithoutAlt, inboxLine, linksMissingParams, snippetText } from '../../../src/preview/presend';

describe('images without alt', () => {
  it('lists images with no alt attribute, and accepts alt="" as decoration', () => {
    const html = '<img src="a.png"><img alt="" src="b.png"><IMG SRC=\'c.png\' width=1><img alt="Logo" src="d.png"><img>';
    expect(imagesWithoutAlt(html)).toEqual(['a.png', 'c.png', '(no src)']);
  });
});

describe('links missing the campaign parameters', () => {
  const required = ['utm_source', 'utm_campaign'];

  it('names what each link lacks, reading &amp; in attributes as &', () => {
    const html = [
      '<a href="https://shop.test/a?utm_source=email&amp;utm_campaign=spring">ok</a>',
      '<a href="https://shop.test/b?utm_source=email">b</a>',
      "<a href='https://shop.test/c'>c</a>",
      '<a href="https://shop.test/d?utm_source=&utm_campaign=x">empty source</a>',
    ].join('');
    expect(linksMissingParams(html, required)).toEqual([
      { href: 'https://shop.test/b?utm_source=email', missing: ['utm_campaign'] },
      { href: 'https://shop.test/c', missing: ['utm_source', 'utm_campaign'] },
      { href: 'https://shop.test/d?utm_source=&utm_campaign=x', missing: ['utm_source'] },
    ]);
  });

  it('leaves out unsubscribe, preference and view-online links, mailto and the ESP reserved hosts', () => {
    const html = [
      '<a href="https://shop.test/unsubscribe?id=1">Unsubscribe</a>',
      '<a href="https://shop.test/p/42">Manage preferences</a>',
      '<a href="https://shop.test/web/1">View online</a>',
      '<a href="mailto:help@shop.test">mail us</a>',
      '<a href="https://unsubscribe.hubspot.invalid/">x</a>',
    ].join('');
    expect(linksMissingParams(html, required)).toEqual([]);
  });

  it('checks nothing when no parameter is required', () => {
    expect(linksMissingParams('<a href="https://shop.test/">x</a>', [])).toEqual([]);
  });
});

describe('the inbox line', () => {
  it('shows the preheader, then the body text the client fills in, cut at the visible length', () => {
    const html = `<html><head><title>t</title><style>p{}</style></head><body><div style="display:none">Hidden preheader&nbsp;&zwnj;&zwnj;</div><h1>Hi Ada,</h1><p>${'word '.repeat(40)}</p></body></html>`;
    const line = inboxLine('Shop', 'Subject', 'Up to 40% off', html);
    expect(line.shown.startsWith('Up to 40% off Hidden preheader Hi Ada, word word')).toBe(true);
    expect(line.shown.length).toBeLessThanOrEqual(PREHEADER_VISIBLE);
    expect(line.shown.length).toBeGreaterThan(PREHEADER_VISIBLE - 6);
    expect(line.shown.endsWith('…')).toBe(true);
    expect({ chars: line.preheaderChars, fromBody: line.fromBody }).toEqual({ chars: 13, fromBody: false });
  });

  it('says when there is no preheader and the client shows the body', () => {
    expect(inboxLine(undefined, 'S', undefined, '<p>Hello &amp; welcome</p>')).toMatchObject({ shown: 'Hello & welcome', fromBody: true, preheaderChars: 0 });
  });

  it('reads text, not markup, comments or zero-width padding', () => {
    expect(snippetText('<!-- x --><p>a\u200b\u200cb</p><script>bad()</script><p>c</p>')).toBe('ab c');
  });
});
