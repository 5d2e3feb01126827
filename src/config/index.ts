export * from './schema';
export * from './load';
export { YamlSource } from './locate';
export type { ConfigPath } from './locate';
