/** `segsync sandbox …` as a child process, as a user runs it in a terminal: started, read, stopped. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const SEGSYNC_BIN = resolve(__dirname, '../../bin/segsync.js');

export interface SandboxProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Sends `signal` and waits for the exit; resolves with the exit code (null when killed by the signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `segsync ARGS` (a sandbox command) in `cwd` and waits until it prints the URL it listens on. */
export function startSandboxProcess(args: string[], cwd: string, timeoutMs = 20_000): Promise<SandboxProcess> {
  return watch(spawn(process.execPath, [SEGSYNC_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] }), `segsync ${args.join(' ')}`, timeoutMs);
}

/**
 * Runs a shell command line that starts a sandbox (e.g. `npx segsync sandbox …`, as a README writes it)
 * in a process group of its own, so that stopping it stops npx, its shell and the sandbox together.
 */
export function startSandboxCommand(line: string, cwd: string, timeoutMs = 60_000): Promise<SandboxProcess> {
  const child = spawn('bash', ['-c', line], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return watch(child, line, timeoutMs, (signal) => process.kill(-child.pid!, signal));
}

function watch(
  child: ChildProcess,
  what: string,
  timeoutMs: number,
  kill: (signal: NodeJS.Signals) => void = (signal) => void child.kill(signal),
): Promise<SandboxProcess> {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
  // 'close', not 'exit': it waits for every process holding the output pipes (npx's children too).
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) kill(signal);
    return exited;
  };
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      kill('SIGKILL');
      fail(new Error(`${what} printed no URL within ${timeoutMs} ms: ${out}${err}`));
    }, timeoutMs);
    const look = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', look);
      done({ child, url: m[1]!, output: () => out, stop });
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited with ${code} before listening: ${out}${err}`));
    });
  });
}
