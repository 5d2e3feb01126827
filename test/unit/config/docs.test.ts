import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { configSchema } from '../../../src/config/schema';

/**
 * Every key path of a zod schema, written as docs/config.md writes them: `a.b`, `<name>` for a
 * record's keys, `[]` for an array's items. Walked from zod's own definitions so a key added to the
 * schema shows up here without anyone listing it.
 */
function keyPaths(schema: z.core.$ZodType, prefix: string): string[] {
  const def = schema._zod.def as unknown as {
    type: string;
    innerType?: z.core.$ZodType;
    shape?: Record<string, z.core.$ZodType>;
    valueType?: z.core.$ZodType;
    element?: z.core.$ZodType;
  };
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
      return keyPaths(def.innerType!, prefix);
    case 'object':
      return Object.entries(def.shape!).flatMap(([key, value]) => {
        const path = prefix ? `${prefix}.${key}` : key;
        return [path, ...keyPaths(value, path)];
      });
    case 'record':
      return keyPaths(def.valueType!, `${prefix}.<name>`);
    case 'array':
      return keyPaths(def.element!, `${prefix}[]`);
    default:
      return [];
  }
}

describe('docs/config.md', () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'config.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## Every key'), doc.indexOf('\n## ', doc.indexOf('## Every key') + 1));
  const documented = new Set([...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));

  it('documents every key of the config schema in its key table', () => {
    const paths = keyPaths(configSchema, '');
    expect(paths).toEqual(expect.arrayContaining(['connectors.hubspot.accessToken', 'segments.<name>.push[].esp', 'daemon.port']));
    expect(paths.filter((p) => !documented.has(p))).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const paths = new Set(keyPaths(configSchema, ''));
    expect([...documented].filter((p) => !paths.has(p))).toEqual([]);
  });
});
