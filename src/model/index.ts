export * from './types';
export * from './identity';
export * from './clock';
export * from './consent';
