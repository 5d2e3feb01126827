import type { Command } from 'commander';
import { startSandbox } from '../../connectors/registry';
import { UsageError } from '../errors';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import { numberOption } from './number-option';

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
    .option('--credential <secret>', 'the API key or token the sandbox accepts (default: a fixed sandbox credential)')
    .action(async (esp: string, opts: { host: string; port: number; rateLimits: boolean; webhookUrl?: string; credential?: string }) => {
      if (!(ESP_NAMES as readonly string[]).includes(esp)) throw new UsageError(`unknown ESP "${esp}"`, { hint: `use one of ${ESP_NAMES.join(', ')}` });
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new UsageError('--port must be a whole number from 0 to 65535');
      const { server, usage } = await startSandbox(esp as EspName, {
        host: opts.host,
        port: opts.port,
        rateLimits: opts.rateLimits,
        ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
        ...(opts.credential ? { credential: opts.credential } : {}),
      });
      process.stdout.write(`${esp} sandbox listening on ${server.url} (Ctrl-C to stop)\nuse it with ${usage}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
