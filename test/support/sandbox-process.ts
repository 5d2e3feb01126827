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
  const child = spawn(process.execPath, [SEGSYNC_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`segsync ${args.join(' ')} printed no URL within ${timeoutMs} ms: ${out}${err}`));
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
      fail(new Error(`segsync ${args.join(' ')} exited with ${code} before listening: ${out}${err}`));
    });
  });
}
