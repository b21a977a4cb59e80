import { defineConfig } from 'vitest/config';

// Seven projects. The test command runs all but `kubernetes` in parallel, then
// `kubernetes` once the cluster it builds in the background meanwhile is up:
//   unit        – pure logic and fast fakes, no engine (seconds)
//   store       – the repository contract suite against a real PostgreSQL (scripts/setup/postgres.sh)
//   contract    – the SandboxDriver contract suite, run against the local and Docker drivers
//   kubernetes  – the same contract suite against a real Kubernetes cluster (scripts/k8s)
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
          exclude: ['test/contract/kubernetes.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'store',
          include: ['test/store/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'kubernetes',
          include: ['test/contract/kubernetes.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
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
