import { defineConfig } from 'vitest/config';

// Five projects, run in parallel by the test command:
//   unit        – pure logic and fast fakes, no engine (seconds)
//   contract    – the SandboxDriver contract suite, run against every driver
//   integration – the real server against the real Docker engine
//   adversarial – attacks and faults, each a row of a table (npm run test:adversarial)
//   e2e         – the web app in Debian's Chromium (playwright-core) against a real server
export default defineConfig({
  test: {
    // Most suites wait on the engine, not the CPU: three files at a time suits 2 cores.
    maxWorkers: 3,
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
        },
      },
      {
        test: {
          name: 'adversarial',
          include: ['test/adversarial/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
