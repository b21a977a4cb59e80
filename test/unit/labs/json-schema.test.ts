/**
 * labs/lab.schema.json is what editors use to complete and check lab.yaml as it is
 * typed. It is generated from the server's own zod schemas; this test fails when the
 * committed file is stale (regenerate with `./bin/opslab lab schema > labs/lab.schema.json`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_TYPES } from '../../../server/checker/registry.js';
import { labJsonSchema } from '../../../server/labs/json-schema.js';
import { REPO_ROOT } from '../../helpers/server-process.js';

describe('labs/lab.schema.json', () => {
  const committed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'labs/lab.schema.json'), 'utf8')) as Record<string, unknown>;

  it('is up to date with the zod schemas the server validates with', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(labJsonSchema())));
  });

  it('offers one variant per check type, each closed to unknown fields', () => {
    const checks = (committed.properties as Record<string, { items: { anyOf: Record<string, unknown>[] } }>).checks!;
    const variants = checks.items.anyOf;
    expect(variants).toHaveLength(CHECK_TYPES.length);
    const types = variants.map((v) => (v.properties as Record<string, { const?: string }>).type?.const);
    expect(types.sort()).toEqual(CHECK_TYPES.map((t) => t.type).sort());
    for (const v of variants) expect(v.additionalProperties).toBe(false);
  });

  it('is what the example lab points its editor at', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'labs/hello/lab.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\.\/lab\.schema\.json/);
  });
});
