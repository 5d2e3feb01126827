import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import { numberOption } from './number-option';

interface SandboxCliOptions {
  host: string;
  port: number;
  rateLimits: boolean;
  webhookUrl?: string;
  webhookSecret: string;
  credential?: string;
  seed?: number;
  seedValue: number;
  state?: string;
}

/** `segsync sandbox ESP`: a local, stateful stand-in for the vendor's API, until Ctrl-C. */
export function register(program: Command): void {
  program
    .command('sandbox')
    .description('run a local stand-in for an ESP API (same paths, auth, limits, errors, webhooks) until stopped')
    .argument('<esp>', ESP_NAMES.join(' | '))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', numberOption('--port', { integer: true, min: 0, max: 65_535 }), 0)
    .option('--no-rate-limits', "do not enforce the vendor's rate limits")
    .option('--webhook-url <url>', 'deliver signed webhooks here when contacts change')
    .option('--webhook-secret <secret>', 'what signs them (the start line names the connector key that takes it)', 'sandbox-webhook-secret')
    .option('--credential <secret>', 'the API key or token the sandbox accepts (default: a fixed sandbox credential)')
    .option(
      '--seed <n>',
      'start with N realistic shoppers (and, on Klaviyo, 60 days of their events); only when the sandbox starts empty',
      numberOption('--seed', { integer: true, min: 0, max: 1_000_000 }),
    )
    .option(
      '--seed-value <s>',
      'seed of the generator: the same value gives the same shoppers (and overlapping casts across vendors)',
      numberOption('--seed-value', { integer: true, min: 0 }),
      1,
    )
    .option('--state <file>', 'keep the sandbox in this file: loaded at start when it exists, written after each change and on exit')
    .action(async (esp: string, opts: SandboxCliOptions) => {
      if (!(ESP_NAMES as readonly string[]).includes(esp)) throw new UsageError(`unknown ESP "${esp}"`, { hint: `use one of ${ESP_NAMES.join(', ')}` });
      if (opts.webhookSecret.trim() === '')
        throw new UsageError('--webhook-secret is empty', { hint: 'give a secret, or leave the option out for sandbox-webhook-secret' });
      // `localhost:8787` parses as a URL of scheme "localhost:": only http(s) can be delivered to.
      if (opts.webhookUrl !== undefined && !/^https?:$/.test(URL.parse(opts.webhookUrl)?.protocol ?? ''))
        throw new UsageError(`--webhook-url ${JSON.stringify(opts.webhookUrl)} is not a URL`, {
          hint: 'give a whole URL, e.g. http://127.0.0.1:8787/webhooks/' + esp,
        });
      const stateFile = opts.state ? resolve(opts.state) : undefined;
      const [{ startSandbox }, { sandboxSeed }] = await Promise.all([import('../../connectors/registry.js'), import('./sandbox-seed.js')]);
      const { server, usage } = await startSandbox(esp as EspName, {
        host: opts.host,
        port: opts.port,
        rateLimits: opts.rateLimits,
        ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl, webhookSecret: opts.webhookSecret } : {}),
        ...(opts.credential ? { credential: opts.credential } : {}),
        ...(stateFile ? { stateFile } : {}),
      });
      const held = server.contacts().length;
      if (stateFile && held > 0) process.stdout.write(`kept ${held} contacts from ${stateFile}${opts.seed ? ' (--seed seeds an empty sandbox only)' : ''}\n`);
      else if (opts.seed) {
        const plan = sandboxSeed(esp as EspName, opts.seed, opts.seedValue, Date.now());
        server.seedContacts(plan.contacts);
        if (plan.events.length > 0) server.seedEvents?.(plan.events);
        process.stdout.write(
          `seeded ${plan.contacts.length} shoppers${plan.events.length > 0 ? ` and ${plan.events.length} events` : ''} (seed value ${opts.seedValue})\n`,
        );
      }
      process.stdout.write(`${esp} sandbox listening on ${server.url} (Ctrl-C to stop)\nuse it with ${usage}\n`);
      await new Promise<void>((done) => {
        const stop = (): void => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      if (stateFile) process.stdout.write(`state written to ${stateFile}\n`);
    });
}
