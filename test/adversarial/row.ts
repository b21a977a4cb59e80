/**
 * One row of the adversarial suite: an attack or fault, what must happen, and what was
 * observed. The body does the attack, asserts the expectation and returns what it saw
 * in a few words; the table reporter (table-reporter.ts) prints every row with "held"
 * = the test passed. A body that throws leaves its error as the observation.
 */
import { it } from 'vitest';

export interface AdversarialMeta {
  area: string;
  expected: string;
  observed: string;
}

declare module 'vitest' {
  interface TaskMeta {
    adversarial?: AdversarialMeta;
  }
}

export function attack(area: string, name: string, expected: string, body: () => Promise<string>, timeoutMs?: number): void {
  it(
    name,
    async ({ task }) => {
      const meta: AdversarialMeta = { area, expected, observed: '(did not finish)' };
      task.meta.adversarial = meta;
      try {
        meta.observed = await body();
      } catch (e) {
        meta.observed = (e instanceof Error ? e.message : String(e)).split('\n')[0]?.slice(0, 200) ?? 'failed';
        throw e;
      }
    },
    timeoutMs,
  );
}
