/**
 * `--serve`: a small HTTP server on 127.0.0.1 that shows the report and rebuilds it when the template
 * or the scenario file changes (fs.watch on their folders, debounced). The page polls `/__version`
 * and reloads itself when a rebuild happened.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { describeError } from '../errors';

export interface PreviewServer {
  url: string;
  /** How many times the report was built (1 after start). */
  builds(): number;
  close(): Promise<void>;
}

export interface ServeOptions {
  outDir: string;
  port?: number;
  /** Files whose change triggers a rebuild. */
  watchFiles: string[];
  /** Builds the report, writes it into `outDir` and returns its HTML (the live-reload script is added). */
  build(liveReloadScript: string): string;
  onRebuild?(error: unknown | undefined): void;
  debounceMs?: number;
  /** Host names accepted besides the loopback ones (`preview.serveHosts` in the config). */
  allowedHosts?: string[];
}

export const LIVE_RELOAD = `<script>(function(){var v=null;setInterval(function(){fetch('/__version').then(function(r){return r.text()}).then(function(t){if(v===null)v=t;else if(t!==v)location.reload()}).catch(function(){})},1000)})();</script>`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host name of a Host header (port and a trailing dot removed, lower case). */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

/**
 * True when the Host header names this machine's loopback or a configured name. A page on another
 * site can point its own DNS name at 127.0.0.1 (DNS rebinding) and read the report; its requests then
 * carry that foreign name in Host, which is what this refuses.
 */
export function isAllowedHost(header: string | undefined, allowed: readonly string[] = []): boolean {
  if (!header) return false;
  const name = hostName(header);
  return LOOPBACK_HOSTS.has(name) || name.endsWith('.localhost') || allowed.some((a) => a.toLowerCase() === name);
}

/** The request path, decoded, or undefined when the URL is malformed (`/%E0%A4%A`). */
function requestPath(url: string | undefined): string | undefined {
  try {
    return decodeURIComponent((url ?? '/').split('?')[0]!);
  } catch {
    return undefined;
  }
}

/** Starts the server; resolves once it listens. */
export async function servePreview(opts: ServeOptions): Promise<PreviewServer> {
  let version = 0;
  let html = '';
  const rebuild = (): void => {
    let error: unknown;
    try {
      html = opts.build(LIVE_RELOAD);
    } catch (err) {
      error = err;
      html = `<!doctype html><meta charset="utf-8"><title>preview error</title><body style="font:14px system-ui;padding:24px"><h1 style="color:#b3261e">The template does not render</h1><pre>${esc(describeError(err))}</pre>${LIVE_RELOAD}</body>`;
    }
    version++;
    opts.onRebuild?.(error);
  };
  rebuild();
  const root = resolve(opts.outDir);
  const server = createServer((req, res) => {
    if (!isAllowedHost(req.headers.host, opts.allowedHosts)) {
      res
        .writeHead(403, { 'content-type': 'text/plain' })
        .end('this preview answers only to localhost; add the host name to preview.serveHosts in the config to allow it\n');
      return;
    }
    const path = requestPath(req.url);
    if (path === undefined || path.includes('\0')) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('malformed URL\n');
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': TYPES['.html']!, 'cache-control': 'no-store' });
      res.end(html);
      return;
    }
    if (path === '/__version') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(String(version));
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (data) => {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(data);
      },
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const names = new Set(opts.watchFiles.map((f) => basename(f)));
  for (const dir of new Set(opts.watchFiles.map((f) => dirname(resolve(f))))) {
    watchers.push(
      watch(dir, (_event, name) => {
        if (name && !names.has(name.toString())) return;
        clearTimeout(timer);
        timer = setTimeout(rebuild, opts.debounceMs ?? 80);
      }),
    );
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    builds: () => version,
    close: async () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
