/**
 * The lab.yaml schema (zod). This is the author-facing contract; every field has a
 * default or a precise error. Issue 3 grows the `checks` part into one schema per
 * check type; for now a check is its common envelope.
 */
import { z } from 'zod';

export const LAB_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const CHECK_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const POSITIVE_INT = 'expected a positive integer';

export const resourcesSchema = z
  .object({
    cpus: z.number().positive().max(8).optional(),
    memoryMb: z.number().int().min(64).max(16_384).optional(),
    pids: z.number().int().min(32).max(4096).optional(),
  })
  .strict();

export const checkSchema = z
  .object({
    id: z.string().regex(CHECK_ID, 'lowercase letters, digits and dashes'),
    title: z.string().min(1),
    points: z.number({ error: POSITIVE_INT }).int(POSITIVE_INT).positive(POSITIVE_INT),
    type: z.string().min(1),
    hidden: z.boolean().default(false),
    hint: z.string().optional(),
  })
  .passthrough();

export const labSchema = z
  .object({
    id: z.string().regex(LAB_ID, 'lowercase letters, digits and dashes, at most 63'),
    title: z.string().min(1).max(120),
    summary: z.string().min(1).max(500),
    difficulty: z.enum(['easy', 'medium', 'hard']),
    durationMinutes: z.number().int().min(5).max(480),
    tags: z.array(z.string().min(1).max(40)).max(20).default([]),
    /** `base` (the shared image) for now; lab images arrive with issue 3. */
    image: z.string().min(1).default('base'),
    resources: resourcesSchema.default({}),
    network: z.enum(['isolated', 'egress']).default('isolated'),
    capabilities: z.array(z.string().regex(/^(CAP_)?[A-Z_]+$/, 'a capability name like NET_RAW')).default([]),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    checks: z.array(checkSchema).default([]),
  })
  .strict();

export type LabFile = z.infer<typeof labSchema>;
export type LabCheck = z.infer<typeof checkSchema>;
