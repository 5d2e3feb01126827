/** Registers `segsync demo`; the sandboxes, daemon and shoppers load only when it runs (demo.ts). */
import type { Command } from 'commander';
import { numberOption } from './number-option';

/** Registers `segsync demo`. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole product on loopback: three ESP sandboxes, the daemon, shoppers, live segments, a preview report')
    .option(
      '--dir <path>',
      "folder for the demo's store, config, log and report: a new or empty folder, or one an earlier demo made (emptied first); any other folder is refused",
      '.segsync/demo',
    )
    .option('--contacts <n>', 'shoppers to seed', numberOption('--contacts', { integer: true, positive: true }), 300)
    .option('--duration <seconds>', 'real seconds the live part lasts', numberOption('--duration', { positive: true }), 60)
    .option('--days <n>', 'simulated days the live part covers', numberOption('--days', { positive: true }), 3)
    .option('--seed <n>', 'random seed (the same seed replays the same shoppers and events)', numberOption('--seed', { integer: true, positive: true }), 42)
    .action(async (opts: { dir: string; contacts: number; duration: number; days: number; seed: number }) => {
      const out = process.stdout;
      const { runDemo } = await import('./demo.js');
      await runDemo({
        dir: opts.dir,
        contacts: opts.contacts,
        seed: opts.seed,
        durationSeconds: opts.duration,
        days: opts.days,
        historyDays: 60,
        out,
        color: out.isTTY === true && !process.env.NO_COLOR,
      });
    });
}
