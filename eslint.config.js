// Lint runs inside the test command; type-aware rules catch the floating promises
// that would otherwise lose errors in the terminal and sandbox code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'web/dist/**', 'labs/**/starter/**', 'labs/**/solution/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'dockerode', message: 'Only server/sandbox/docker*.ts may import dockerode.' },
          { name: '@kubernetes/client-node', message: 'Only server/sandbox/kubernetes.ts may import the Kubernetes client.' },
        ],
      }],
    },
  },
  {
    // The adapters that are allowed to talk to an engine directly, and the tests and
    // benchmarks that compare opslab against a direct engine connection.
    files: ['server/sandbox/docker*.ts', 'server/sandbox/kubernetes.ts', 'test/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
