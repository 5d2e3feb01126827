/**
 * `npm run bench`: every benchmark in turn, or the ones named (`npm run bench -- import rules`).
 * Each prints its figures and the machine it ran on.
 */
import * as cliBench from './cli';
import * as hubspotBench from './hubspot';
import * as importBench from './import';
import * as klaviyoBench from './klaviyo';
import * as mailchimpBench from './mailchimp';
import * as previewBench from './preview';
import * as rulesBench from './rules';
import * as syncBench from './sync';
import * as trackBench from './track';

const BENCHES: Record<string, { run(): Promise<void> }> = {
  cli: cliBench,
  import: importBench,
  rules: rulesBench,
  hubspot: hubspotBench,
  mailchimp: mailchimpBench,
  klaviyo: klaviyoBench,
  sync: syncBench,
  preview: previewBench,
  track: trackBench,
};

/** Runs the selected benchmarks one after another. */
export async function run(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) {
      console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    await bench.run();
    console.log('');
  }
}
