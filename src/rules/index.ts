/** The segment rules: compile segsync.yaml's rules, evaluate contacts, explain answers. See docs/rules.md. */
export { SegmentEngine, storeKnowledge } from './engine';
export type { ContactEvaluation, RecomputeSummary, SegmentChange, SegmentSummary, ProgressFn } from './engine';
export { RuleSet, inlineSources, sourcesFromConfig } from './ruleset';
export type { CompiledSegment, Evaluation } from './ruleset';
export { RuleSetError, checkRules } from './check';
export type { Knowledge, RuleIssue, RuleSource } from './check';
export { explainSegment, renderExplanation } from './explain';
export type { ExplainNode, Explanation } from './explain';
export { parseDurationText, formatDuration } from './durations';
