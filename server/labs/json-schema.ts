/**
 * The JSON Schema of lab.yaml for editors (labs/lab.schema.json, used by the YAML
 * language server), generated from the same zod schemas the server validates with, so
 * the two cannot drift; a unit test fails when the committed file is stale.
 */
import { z } from 'zod';
import { CHECK_TYPES, checkEnvelope } from '../checker/registry.js';
import { labSchema } from './schema.js';

export function labJsonSchema(): Record<string, unknown> {
  const variants = CHECK_TYPES.map((t) =>
    checkEnvelope.omit({ type: true }).extend((t.schema as unknown as z.ZodObject).shape).strict(),
  );
  const full = labSchema.extend({
    checks: z.array(z.union(variants as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]])).min(1),
  });
  return {
    ...z.toJSONSchema(full, { io: 'input', unrepresentable: 'any', target: 'draft-7' }),
    title: 'opslab lab.yaml',
    $id: 'https://opslab.dev/lab.schema.json',
  };
}
