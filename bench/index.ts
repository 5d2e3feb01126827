/**
 * `npm run bench`: every benchmark in turn, or the ones named (`npm run bench -- import rules`).
 * Each prints its figures and the machine it ran on.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  import: () => import('./import'),
};

/** Runs the selected benchmarks one after another. */
export async function run(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) {
      console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    await (await load()).run();
    console.log('');
  }
}
