/**
 * Maps a path inside a parsed YAML document (e.g. ['segments', 'vip', 'rule']) back to the line and
 * column it came from, so every config error can say where it is.
 */
import type { Document, LineCounter, Node } from 'yaml';
import { isMap, isNode, isPair, isScalar, isSeq } from 'yaml';
import type { SourceLocation } from '../errors';

export type ConfigPath = readonly (string | number)[];

/** A parsed YAML file with a way back from values to positions. */
export class YamlSource {
  constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lines: LineCounter,
    /** The file's text as read. */
    readonly rawSource: string,
  ) {}

  /** Location of the offset in the file. */
  at(offset: number): SourceLocation {
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col };
  }

  /** The node at `path`, or the nearest ancestor that exists. */
  nearestNode(path: ConfigPath): { node: Node | undefined; depth: number } {
    let node: unknown = this.doc.contents;
    let depth = 0;
    for (const key of path) {
      const next = childOf(node, key);
      if (next === undefined) break;
      node = next;
      depth++;
    }
    return { node: isNode(node) ? node : undefined, depth };
  }

  /** Where the value at `path` starts (or its nearest existing ancestor). */
  locate(path: ConfigPath): SourceLocation {
    const { node } = this.nearestNode(path);
    return node?.range ? this.at(node.range[0]) : { file: this.file, line: 1, column: 1 };
  }

  /** Where the key `key` of the mapping at `path` is written. */
  locateKey(path: ConfigPath, key: string): SourceLocation {
    const { node, depth } = this.nearestNode(path);
    if (depth === path.length && isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) return this.at(pair.key.range[0]);
      }
    }
    return this.locate(path);
  }

  /**
   * Where character `offset` of the string at `path` is, following YAML's quoting and block scalars,
   * so an error inside a rule points at the rule's own line and column in segsync.yaml.
   */
  locateInString(path: ConfigPath, offset: number): SourceLocation {
    const { node, depth } = this.nearestNode(path);
    if (depth !== path.length || !isScalar(node) || !node.range || typeof node.value !== 'string') return this.locate(path);
    const start = this.at(node.range[0]);
    const text = node.value.slice(0, offset);
    const lineInText = text.split('\n').length - 1;
    const colInLine = text.length - (text.lastIndexOf('\n') + 1);
    if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
      // The content starts on the line after the indicator; find its indentation from the source.
      const raw = this.rawSource.slice(node.range[0], node.range[1]);
      const firstContent =
        raw
          .split('\n')
          .slice(1)
          .find((l) => l.trim() !== '') ?? '';
      const indent = firstContent.length - firstContent.trimStart().length;
      return { file: this.file, line: (start.line ?? 1) + 1 + lineInText, column: indent + colInLine + 1 };
    }
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    if (lineInText === 0) return { file: this.file, line: start.line, column: (start.column ?? 1) + quoted + colInLine };
    return { file: this.file, line: (start.line ?? 1) + lineInText, column: colInLine + 1 };
  }
}

function childOf(node: unknown, key: string | number): unknown {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === String(key)) return pair.value ?? pair.key;
    }
    return undefined;
  }
  if (isSeq(node) && typeof key === 'number') return node.items[key];
  return undefined;
}
