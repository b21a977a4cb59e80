/**
 * Every check type the platform offers, and how a check in lab.yaml is parsed: the
 * common envelope (id, title, points, ...) plus the fields of its type, each strict,
 * so an author's typo is an error that names the field.
 */
import { z } from 'zod';
import { commandCheck } from './checks/command.js';
import { fileCheck } from './checks/file.js';
import { gitCheck } from './checks/git.js';
import { httpCheck } from './checks/http.js';
import { manifestCheck } from './checks/manifest.js';
import { mlflowCheck } from './checks/mlflow.js';
import type { CheckType } from './types.js';

export const CHECK_TYPES: readonly CheckType[] = [
  fileCheck,
  gitCheck,
  manifestCheck,
  commandCheck,
  httpCheck,
  mlflowCheck,
] as unknown as readonly CheckType[];

const CHECK_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const POSITIVE_INT = 'expected a positive integer';

export const checkEnvelope = z.object({
  id: z.string().regex(CHECK_ID, 'lowercase letters, digits and dashes'),
  title: z.string().min(1).max(200),
  points: z.number({ error: POSITIVE_INT }).int(POSITIVE_INT).positive(POSITIVE_INT).max(1000),
  type: z.string().min(1),
  /** Interviewers see it; candidates do not. */
  hidden: z.boolean().default(false),
  /** Shown to the candidate when the check does not pass. */
  hint: z.string().max(1000).optional(),
  timeoutSeconds: z.number().positive().max(600).default(60),
  /** What `opslab lab test` expects of the untouched starter: most checks must fail there. */
  atStart: z.enum(['fail', 'pass', 'any']).default('fail'),
});

export type CheckEnvelope = z.infer<typeof checkEnvelope>;
/** A parsed check: the envelope plus its type's own fields. */
export type CheckSpec = CheckEnvelope & Record<string, unknown>;

const ENVELOPE_KEYS = new Set(Object.keys(checkEnvelope.shape).filter((k) => k !== 'type'));

export function checkTypeOf(type: string): CheckType {
  const t = CHECK_TYPES.find((c) => c.type === type);
  if (!t) throw new Error(`unknown check type "${type}"`);
  return t;
}

export type CheckIssue = { path: PropertyKey[]; message: string; code?: string; keys?: string[] };

/** Parses one check; issues have paths relative to the check. */
export function parseCheck(raw: unknown): { ok: true; check: CheckSpec } | { ok: false; issues: CheckIssue[] } {
  const env = checkEnvelope.passthrough().safeParse(raw);
  if (!env.success) return { ok: false, issues: env.error.issues as CheckIssue[] };
  const type = CHECK_TYPES.find((c) => c.type === env.data.type);
  if (!type) {
    return {
      ok: false,
      // The loader appends `, got "<type>"`.
      issues: [{ path: ['type'], message: `not a check type: expected one of ${CHECK_TYPES.map((c) => c.type).join(', ')}` }],
    };
  }
  const own = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => !ENVELOPE_KEYS.has(k)));
  const parsed = type.schema.safeParse(own);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues as CheckIssue[] };
  const envelope = Object.fromEntries(Object.entries(env.data).filter(([k]) => ENVELOPE_KEYS.has(k) || k === 'type'));
  return { ok: true, check: { ...(parsed.data as object), ...envelope } as CheckSpec };
}
