/** The coverage matrix: conditional blocks × scenarios, and how many branches the scenarios reach. */
import type { ConditionalBlock } from './dialects/dialect';
import type { ScenarioRender } from './render';
import type { TemplateFile } from './template-file';

/** One cell: which branches a scenario rendered in a block (empty: the block was not evaluated). */
export interface MatrixCell {
  branches: number[];
  iterations: number | undefined;
}

export interface MatrixRow {
  block: ConditionalBlock;
  cells: MatrixCell[];
  /** Branch indexes reached by at least one scenario. */
  reached: Set<number>;
}

/** Rows of blocks, columns in the order of `renders`. */
export function coverageMatrix(template: TemplateFile, renders: ScenarioRender[]): MatrixRow[] {
  return template.blocks.map((block) => {
    const cells = renders.map((r) => ({ branches: [...new Set(r.branches.get(block.id) ?? [])], iterations: r.iterations.get(block.id) }));
    return { block, cells, reached: new Set(cells.flatMap((c) => c.branches)) };
  });
}

/** Branches reached and branches in total (implicit "nothing rendered" outcomes not counted). */
export function branchCoverage(matrix: MatrixRow[]): { reached: number; total: number } {
  let reached = 0;
  let total = 0;
  for (const row of matrix) {
    row.block.branches.forEach((b, i) => {
      if (b.implicit) return;
      total++;
      if (row.reached.has(i)) reached++;
    });
  }
  return { reached, total };
}
