/**
 * The one interface every template dialect implements: parse a template (located errors), describe its
 * conditional blocks with template line numbers, and render it against a context while recording
 * which branch of each block rendered and which variables were read but undefined.
 */
import type { FieldValue } from '../../model/types';

export const DIALECT_NAMES = ['liquid', 'klaviyo', 'handlebars', 'mailchimp', 'hubl'] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** One way through a conditional block: `if x`, `elsif y`, `else`, a `when`, a loop body. */
export interface Branch {
  /** What the user wrote (`if customer.vip`, `else`, `for item in cart`), trimmed for display. */
  label: string;
  /** 1-based template line of the tag that opens this branch. */
  line: number;
  /** True for the "nothing rendered" outcome of an `if` without `else` or a loop without `empty`. */
  implicit?: boolean;
}

export type BlockKind = 'if' | 'unless' | 'case' | 'for' | 'interested' | 'helper';

/** A conditional block of the template: a row of the coverage matrix. */
export interface ConditionalBlock {
  /** Stable within one parse: `L<line>:<column>` of the opening tag. */
  id: string;
  kind: BlockKind;
  line: number;
  column: number;
  branches: Branch[];
}

/** A variable compared in a condition, with the literal it is compared to (for scenario synthesis). */
export interface ConditionUse {
  /** Dotted path as the template context sees it (`customer.tags`, `person.Loyalty Points`, `FNAME`). */
  path: string;
  op?: '==' | '!=' | '>' | '<' | '>=' | '<=' | 'contains' | 'in';
  value?: FieldValue;
  line: number;
}

/** A place the template prints a variable. */
export interface OutputUse {
  path: string;
  line: number;
  /** A default/fallback is applied where it is printed. */
  hasFallback: boolean;
}

/** What a parse learns about a template without rendering it. */
export interface TemplateAnalysis {
  blocks: ConditionalBlock[];
  conditions: ConditionUse[];
  outputs: OutputUse[];
}

/** An undefined variable read while rendering. */
export interface UndefinedRead {
  path: string;
  line: number | undefined;
}

/** What one render produced. */
export interface RenderResult {
  html: string;
  /** Block id → branch indexes taken, in order (a block inside a loop can record several). */
  branches: Map<string, number[]>;
  /** Block id → number of loop iterations seen (loops only). */
  iterations: Map<string, number>;
  /** Undefined variables printed without a fallback (reads in conditions are tests, not gaps). */
  undefinedVariables: UndefinedRead[];
}

/** A parsed template, ready to render many times. */
export interface CompiledTemplate {
  readonly dialect: DialectName;
  readonly analysis: TemplateAnalysis;
  render(context: Record<string, unknown>): RenderResult;
}

/** A scenario as the dialects see it: a recipient's data before dialect-specific shaping. */
export interface ScenarioData {
  properties: Record<string, FieldValue>;
  tags: string[];
  /** Segment name → value (true/false for flags, a stage or score for value segments). */
  segments: Record<string, FieldValue>;
  /** Behavioral events, oldest first; the last one is the event that triggered the message. */
  events: { name: string; time?: string | number; properties: Record<string, FieldValue> }[];
  /** Mailchimp interest groups: category → group names. */
  groups: Record<string, string[]>;
  email: string | undefined;
  /** The send time the render assumes (ISO or epoch ms): dates like `*|DATE:Y|*` and `{% today %}` use it. */
  now?: string | number;
  /** Raw context merged over the shaped one (dialect-specific paths). */
  context: Record<string, unknown>;
}

/** A template language. */
export interface Dialect {
  readonly name: DialectName;
  /** Parses `source` or throws a TemplateError located in `file` (1-based line and column). */
  compile(source: string, file: string): CompiledTemplate;
  /** Shapes a scenario into the context this ESP would give the template. */
  shapeContext(scenario: ScenarioData): Record<string, unknown>;
}
