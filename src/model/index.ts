export * from './types';
export * from './identity';
export * from './clock';
