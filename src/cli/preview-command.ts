/** Registers `segsync preview`; the renderers, browser and server load only when it runs (preview.ts). */
import type { Command } from 'commander';
import { numberOption } from './number-option';
import type { PreviewCliOptions } from './preview';

/** Registers `segsync preview`. */
export function register(program: Command): void {
  program
    .command('preview')
    .description('render a template for many recipients: HTML + text per scenario, a branch-coverage matrix and warnings')
    .argument(
      '<template>',
      'template file (.liquid, .klaviyo.html, .hbs, .mc.html, .hubl.html; or front matter "dialect: …"), or a folder: every template under it',
    )
    .option('--scenarios <file>', 'scenario file (YAML/JSON); default: <name>.scenarios.yaml or scenarios.yaml beside the template')
    .option('--cover', 'generate scenarios that reach every branch')
    .option('--sample <n>', 'use N contacts sampled from the store', numberOption('--sample', { integer: true, positive: true }))
    .option('--segment <name>', 'with --sample: only members of this segment, with their events and segment values')
    .option('--out <dir>', 'report folder', 'preview-report')
    .option('--serve', 'serve the report on 127.0.0.1 and re-render when the template or scenarios change')
    .option('--port <n>', 'port for --serve (0: any free port)', numberOption('--port', { integer: true, min: 0, max: 65_535 }), 4110)
    .option('--check', 'exit 1 when there are warnings (for CI)')
    .option('--screenshots', 'also save light and dark-mode PNG screenshots at 375 and 800 px and run the axe-core accessibility pass (needs Chromium)')
    .option('--no-empty', 'do not add the automatic empty-profile scenario')
    .option('--junit <file>', 'also write a JUnit XML report (one test case per scenario; warnings are failures)')
    .option('--now <time>', 'send time the render assumes (ISO); dates like *|DATE:Y|* use it')
    .addHelpText('after', '\nExit codes: 1 with --check when any warning is found, and when the template or a scenario file is invalid; 2 for bad usage.')
    .action(async (templateArg: string, opts: PreviewCliOptions, cmd: Command) => (await import('./preview.js')).runPreviewCommand(templateArg, opts, cmd));
}
