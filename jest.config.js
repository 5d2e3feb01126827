/** Jest runs TypeScript through @swc/jest (no type-check: `tsc --noEmit` does that in `npm test`). */
const esmOnly = ['@marcbachmann/cel-js', '@faker-js/faker', '@bufbuild/cel-spec'];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  // Lazy `await import('./x.js')` (nodenext wants the extension) names the TypeScript file x.ts.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 30000,
};
