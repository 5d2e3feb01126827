/**
 * Reads segsync.yaml: YAML syntax, then the zod schema, then the cross-checks zod cannot express
 * (literal secrets, mappings to undeclared fields), then `${ENV}` resolution. Every problem found is
 * reported at once, each with file, line, column and what to do.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatLocation } from '../errors';
import type { SourceLocation } from '../errors';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import type { ConfigPath } from './locate';
import { YamlSource } from './locate';
import { ENV_REF, SECRET_KEYS, configSchema } from './schema';
import type { SegsyncConfig } from './schema';
import { closest } from './closest';

/** One problem in a config file. */
export interface ConfigIssue {
  location: SourceLocation;
  message: string;
  hint?: string;
}

/** Thrown when a config file has problems; `issues` lists every one, in file order. */
export class ConfigFileError extends ConfigError {
  constructor(readonly issues: ConfigIssue[]) {
    const first = issues[0]!;
    super(issues.map((i) => `${formatLocation(i.location)}: ${i.message}${i.hint ? ` (${i.hint})` : ''}`).join('\n'), {
      location: first.location,
      hint: issues.length === 1 ? first.hint : undefined,
    });
  }

  override describe(): string {
    return this.message;
  }
}

/** A validated config and the YAML source it came from (to locate later errors, e.g. in rules). */
export interface LoadedConfig {
  config: SegsyncConfig;
  source: YamlSource;
  /** The config file's path. */
  file: string;
}

export interface LoadOptions {
  /** Where `${VAR}` references are resolved (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Which `${VAR}` secrets must resolve (default: all). Commands that never call an ESP skip them, so
   * `segsync status` or `segments` work without credentials; unresolved references stay as written.
   */
  secrets?: { connectors: boolean; daemon: boolean };
}

/** Reads and validates a config file. */
export function loadConfigFile(file: string, options: LoadOptions = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'run `segsync init` to write an example segsync.yaml, or pass --config PATH',
      cause: err,
    });
  }
  return parseConfig(text, file, options);
}

/** Validates config text; `file` is only used to name locations. */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = new YamlSource(file, doc, lines, text);
  const issues: ConfigIssue[] = [];

  // The first syntax error is the real one; the rest are the parser losing its footing after it.
  const syntax = doc.errors[0];
  if (syntax) {
    const line = text.split('\n')[source.at(syntax.pos[0]).line! - 1] ?? '';
    const hint = /\{[^}]*\$\{/.test(line) ? 'inside { … } write environment references in quotes: "${VAR}"' : 'check indentation and quoting';
    issues.push({ location: source.at(syntax.pos[0]), message: `YAML syntax: ${firstLine(syntax.message)}`, hint });
  }
  if (issues.length) throw new ConfigFileError(issues);

  const raw: unknown = doc.toJS() ?? {};
  issues.push(...literalSecrets(raw, source));
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push(...describeIssue(issue, raw, source));
  } else {
    issues.push(...crossCheck(parsed.data, source));
  }
  if (issues.length) throw new ConfigFileError(sortIssues(issues));

  const config = parsed.data!;
  const envIssues = resolveSecrets(config, source, options.env ?? process.env, options.secrets ?? { connectors: true, daemon: true });
  if (envIssues.length) throw new ConfigFileError(envIssues);
  return { config, source, file };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0) || (a.location.column ?? 0) - (b.location.column ?? 0));
}

/** Secrets must be `${ENV}` references: a literal token in a file ends up in git. */
function literalSecrets(raw: unknown, source: YamlSource, path: (string | number)[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  if (Array.isArray(raw)) {
    raw.forEach((v, i) => out.push(...literalSecrets(v, source, [...path, i])));
  } else if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (SECRET_KEYS.has(k) && typeof v === 'string' && !ENV_REF.test(v)) {
        out.push({
          location: source.locate([...path, k]),
          message: `"${k}" holds a literal secret`,
          hint: `write it as an environment reference, e.g. ${k}: \${${envNameFor(path, k)}}, and export that variable`,
        });
      } else {
        out.push(...literalSecrets(v, source, [...path, k]));
      }
    }
  }
  return out;
}

function envNameFor(path: (string | number)[], key: string): string {
  const esp = path.find((p): p is string => typeof p === 'string' && (ESP_NAMES as readonly string[]).includes(p));
  const snake = key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  return esp ? `${esp.toUpperCase()}_${snake}` : `SEGSYNC_${snake}`;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, source: YamlSource): ConfigIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => unknownKey(path, key, source));
  }
  if (issue.code === 'invalid_type' && valueAt(raw, path) === undefined) {
    const key = path[path.length - 1];
    return [
      {
        location: source.locate(path.slice(0, -1)),
        message: `missing required "${String(key)}" in ${describePath(path.slice(0, -1))}`,
        hint: `add "${String(key)}:"`,
      },
    ];
  }
  const got = valueAt(raw, path);
  return [
    {
      location: source.locate(path),
      message: `${describePath(path)}: ${issue.message}${got !== undefined && typeof got !== 'object' ? ` (got ${JSON.stringify(got)})` : ''}`,
      hint: hintFor(issue),
    },
  ];
}

function unknownKey(path: ConfigPath, key: string, source: YamlSource): ConfigIssue {
  const location = source.locateKey(path, key);
  const parent = path[path.length - 1];
  if (path.length === 1 && (parent === 'connectors' || parent === 'mappings')) {
    return { location, message: `unknown ESP "${key}" in ${parent}`, hint: `segsync supports ${ESP_NAMES.join(', ')}` };
  }
  return { location, message: `unknown key "${key}" in ${describePath(path)}`, hint: 'remove it or check its spelling against docs/config.md' };
}

function hintFor(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code === 'invalid_value' && 'values' in issue) return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  return undefined;
}

function describePath(path: ConfigPath): string {
  if (path.length === 0) return 'the top level';
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[');
}

function valueAt(raw: unknown, path: ConfigPath): unknown {
  let v: unknown = raw;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

/** Checks across sections: mapped fields exist, enum fields have options, pushes go to configured ESPs. */
function crossCheck(config: SegsyncConfig, source: YamlSource): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const fieldNames = Object.keys(config.fields);
  for (const [name, field] of Object.entries(config.fields)) {
    if (field.type === 'enum' && !field.options?.length) {
      issues.push({ location: source.locate(['fields', name]), message: `field "${name}" is an enum without options`, hint: 'add options: [a, b, …]' });
    }
  }
  for (const esp of ESP_NAMES) {
    const entries = config.mappings[esp] ?? [];
    const seenRemote = new Map<string, number>();
    entries.forEach((m, i) => {
      if (!config.fields[m.local]) {
        const near = closest(m.local, fieldNames);
        issues.push({
          location: source.locate(['mappings', esp, i, 'local']),
          message: `mapping ${esp}[${i}] refers to unknown field "${m.local}"`,
          hint: near ? `did you mean "${near}"? Fields are declared under fields:` : 'declare it under fields: first',
        });
      }
      const prev = seenRemote.get(m.remote);
      if (prev !== undefined) {
        issues.push({
          location: source.locate(['mappings', esp, i, 'remote']),
          message: `${esp} field "${m.remote}" is mapped twice (also at [${prev}])`,
          hint: 'map each ESP field once',
        });
      }
      seenRemote.set(m.remote, i);
    });
    if (entries.length && !config.connectors[esp]) {
      issues.push({
        location: source.locateKey(['mappings'], esp),
        message: `mappings for ${esp}, but ${esp} is not under connectors`,
        hint: `add a connectors.${esp} section or remove these mappings`,
      });
    }
  }
  for (const [name, seg] of Object.entries(config.segments)) {
    seg.push.forEach((target, i) => {
      if (!config.connectors[target.esp]) {
        issues.push({
          location: source.locate(['segments', name, 'push', i, 'esp']),
          message: `segment "${name}" pushes to ${target.esp}, which is not under connectors`,
          hint: `add a connectors.${target.esp} section or remove this target`,
        });
      }
    });
  }
  return issues;
}

/** Replaces `${VAR}` secrets of enabled connectors and the daemon with their environment values. */
function resolveSecrets(
  config: SegsyncConfig,
  source: YamlSource,
  env: Record<string, string | undefined>,
  which: { connectors: boolean; daemon: boolean },
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const resolve = (obj: Record<string, unknown>, path: string[]): void => {
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (!SECRET_KEYS.has(key) || typeof v !== 'string') continue;
      const name = ENV_REF.exec(v)?.[1];
      if (!name) continue;
      const value = env[name];
      if (value === undefined || value === '') {
        issues.push({
          location: source.locate([...path, key]),
          message: `environment variable ${name} (for ${[...path, key].join('.')}) is not set`,
          hint: `export ${name}=… before running segsync`,
        });
      } else {
        obj[key] = value;
      }
    }
  };
  for (const esp of which.connectors ? ESP_NAMES : []) {
    const section = config.connectors[esp as EspName];
    if (section?.enabled) resolve(section as unknown as Record<string, unknown>, ['connectors', esp]);
  }
  if (which.daemon) resolve(config.daemon as unknown as Record<string, unknown>, ['daemon']);
  return issues;
}
