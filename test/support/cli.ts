/** Running the real CLI from tests, and an address where nothing listens. */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** The CLI entry point, as a user's `npx segsync` runs it. */
export const BIN = resolve(__dirname, '../../bin/segsync.js');

/** What a finished command left. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `segsync ARGS` to its end without blocking this process (sandboxes in this process must keep
 * answering it); killed after `timeoutMs` so a hung command fails its test instead of hanging Jest.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** A loopback URL nothing listens on (connections are refused): an ESP that is down. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** Runs `segsync` synchronously in `dir` on that folder's `segsync.yaml` and `store.db` (a CLI with no server in this process to answer it). */
export function runCliIn(dir: string, env: NodeJS.ProcessEnv, ...args: string[]): CliRun {
  const r = spawnSync(process.execPath, [BIN, '--config', join(dir, 'segsync.yaml'), '--store', join(dir, 'store.db'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
