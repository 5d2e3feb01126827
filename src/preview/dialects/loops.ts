/**
 * Condition paths inside loops are written against the loop variable (`item.sale` in `for item in
 * cart`). For scenario synthesis they are rewritten to `cart[].sale`, so the generator knows to put
 * the value on the list's items rather than at the top of the context.
 */
export interface LoopScope {
  /** The loop variable, or '' for Handlebars' `#each`, whose body reads the item implicitly. */
  variable: string;
  /** The collection's (already scoped) path. */
  collection: string;
}

/** `path` as seen from outside every enclosing loop. */
export function scopedPath(path: string, loops: readonly LoopScope[]): string {
  for (let i = loops.length - 1; i >= 0; i--) {
    const l = loops[i]!;
    if (l.variable === '') {
      if (path.startsWith('@') || path.startsWith('../')) return path.replace(/^\.\.\//, '');
      const rest = path.replace(/^this\.?/, '');
      return rest ? `${l.collection}[].${rest}` : `${l.collection}[]`;
    }
    if (path === l.variable) return `${l.collection}[]`;
    if (path.startsWith(`${l.variable}.`)) return `${l.collection}[].${path.slice(l.variable.length + 1)}`;
  }
  return path;
}
