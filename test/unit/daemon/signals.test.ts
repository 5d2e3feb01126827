import { exitOnSignals } from '../../../src/daemon/daemon';
import { createLogger } from '../../../src/log/logger';

describe('exitOnSignals', () => {
  const logger = createLogger({ level: 'silent' });

  function setup(timeoutMs = 10_000) {
    let finish!: () => void;
    let fail!: (err: Error) => void;
    const stopped = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const stop = jest.fn(() => stopped);
    const exits: number[] = [];
    const remove = exitOnSignals({ stop }, { logger, timeoutMs, exit: (code) => exits.push(code) });
    return { stop, exits, finish, fail, remove };
  }

  it('stops once on SIGTERM and exits 0 when the stop completes', async () => {
    const s = setup();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(s.stop).toHaveBeenCalledTimes(1);
      expect(s.exits).toEqual([]);
      s.finish();
      await new Promise((r) => setImmediate(r));
      expect(s.exits).toEqual([0]);
    } finally {
      s.remove();
    }
  });

  it('exits 1 at once on a second signal', () => {
    const s = setup();
    try {
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGTERM', 'SIGTERM');
      expect(s.exits).toEqual([1]);
      expect(s.stop).toHaveBeenCalledTimes(1);
    } finally {
      s.finish();
      s.remove();
    }
  });

  it('exits 1 when the stop fails or outlasts the bound', async () => {
    const failing = setup();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      failing.fail(new Error('store locked'));
      await new Promise((r) => setImmediate(r));
      expect(failing.exits).toEqual([1]);
    } finally {
      failing.remove();
    }
    const slow = setup(20);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await new Promise((r) => setTimeout(r, 60));
      expect(slow.exits).toEqual([1]);
      slow.finish();
      await new Promise((r) => setImmediate(r));
      expect(slow.exits).toEqual([1]);
    } finally {
      slow.remove();
    }
  });
});
