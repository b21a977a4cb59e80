/**
 * Prints the adversarial suite as a table: area, attack or fault, expected, observed,
 * held. "held" is the test's own result, so the table cannot say yes where the test
 * failed. Also written to test-output/adversarial.md for the closing notes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import './row.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
}

export default class AdversarialTableReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const rows: string[][] = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const meta = test.meta().adversarial;
        if (!meta) continue;
        const state = test.result().state;
        const held = state === 'passed' ? 'yes' : state === 'skipped' ? `skipped` : 'NO';
        rows.push([meta.area, test.name, meta.expected, meta.observed, held]);
      }
    }
    if (rows.length === 0) return;
    const header = ['area', 'attack or fault', 'expected', 'observed', 'held'];
    const md = [
      `| ${header.join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    ].join('\n');
    const out = path.resolve('test-output/adversarial.md');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${md}\n`);
    const held = rows.filter((r) => r[4] === 'yes').length;
    process.stdout.write(`\nAdversarial suite: ${held} of ${rows.length} held\n${md}\n(written to ${path.relative(process.cwd(), out)})\n`);
  }
}
