/**
 * Dropping the keys a vendor left undefined: connectors spread options over defaults and pass results
 * on, where a key present as `undefined` would override a default or show up in a result. Written by
 * hand because it is one line and no installed library offers it typed (lodash is not a dependency).
 */

/** The keys of `T` whose value may be undefined become optional. */
export type DefinedOnly<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** `object` without its undefined values (a new object; `null`, `false`, `0` and `''` stay). */
export function definedOnly<T extends object>(object: T): DefinedOnly<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as DefinedOnly<T>;
}
