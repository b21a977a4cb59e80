import { defineConfig } from 'vitest/config';

// Three projects, run in parallel by the test command:
//   unit        – pure logic and fast fakes, no engine (seconds)
//   contract    – the SandboxDriver contract suite, run against every driver
//   integration – the real server against the real Docker engine
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Each file starts its own server; two at a time suits a 2-core machine.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
    ],
  },
});
