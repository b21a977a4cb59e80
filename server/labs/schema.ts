/**
 * The lab.yaml schema (zod). This is the author-facing contract; every field has a
 * default or a precise error. Checks are parsed one by one by the checker's registry
 * (server/checker/registry.ts), so an error inside a check names its own field.
 */
import { z } from 'zod';

export const LAB_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Paths the sandbox already mounts, or that must stay on the image: a lab's tmpfs may
 * not be one of them or lie inside one.
 */
const RESERVED_MOUNTS = ['/workspace', '/home', '/tmp', '/var/tmp', '/run', '/var/log', '/var/lib/opslab', '/dev', '/proc', '/sys', '/etc', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/grader'];

/** Why `path` cannot be a lab's tmpfs directory, or undefined if it can. */
function tmpfsPathProblem(path: string): string | undefined {
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(path)) return 'expected an absolute path like /srv/mlflow (letters, digits, . _ -; no trailing slash)';
  if (path.split('/').some((seg) => seg === '.' || seg === '..')) return 'expected a path without . or .. segments';
  if (RESERVED_MOUNTS.some((r) => path === r || path.startsWith(`${r}/`))) return `must not be or lie inside ${RESERVED_MOUNTS.join(', ')}`;
  return undefined;
}

export const resourcesSchema = z
  .object({
    cpus: z.number().positive().max(8).optional(),
    memoryMb: z.number().int().min(64).max(16_384).optional(),
    pids: z.number().int().min(32).max(4096).optional(),
    /** Size of the workspace's file system in MB; writing past it is "No space left on device". */
    diskMb: z.number().int().min(64).max(65_536).optional(),
    /**
     * Memory-backed directories (path: size in MB) for the data of the lab's own services,
     * e.g. an MLflow server's store: what a candidate makes them write stays bounded
     * instead of growing the container's root file system. Counts against memoryMb.
     */
    tmpfs: z
      .record(z.string(), z.number().int().min(1).max(4096))
      .superRefine((m, ctx) => {
        // Per key, so the error names the path at its own line (zod's record keys only say "Invalid key").
        for (const path of Object.keys(m)) {
          const problem = tmpfsPathProblem(path);
          if (problem) ctx.addIssue({ code: 'custom', path: [path], message: problem, input: path });
        }
        if (Object.keys(m).length > 8) ctx.addIssue({ code: 'custom', message: 'at most 8 tmpfs directories', input: m });
      })
      .optional(),
  })
  .strict();

/** How a setup step says it is ready: exactly one of an HTTP URL, a port or a command. */
export const readySchema = z
  .object({
    http: z.url({ protocol: /^https?$/ }).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    command: z.string().min(1).optional(),
    timeoutSeconds: z.number().positive().max(600).default(60),
  })
  .strict()
  .refine((r) => [r.http, r.port, r.command].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of http, port or command',
  });

export const setupStepSchema = z
  .object({
    name: z.string().min(1).max(80).optional(),
    /** A shell command (`sh -c`), run in the workspace container before the candidate arrives. */
    run: z.string().min(1),
    user: z.enum(['root', 'candidate']).default('root'),
    /** A service that keeps running (an MLflow server); wait for it with `ready`. */
    background: z.boolean().default(false),
    /** For a foreground step: how long it may take. */
    timeoutSeconds: z.number().positive().max(1800).default(120),
    ready: readySchema.optional(),
  })
  .strict();

export const labSchema = z
  .object({
    id: z.string().regex(LAB_ID, 'lowercase letters, digits and dashes, at most 63'),
    title: z.string().min(1).max(120),
    summary: z.string().min(1).max(500),
    difficulty: z.enum(['easy', 'medium', 'hard']),
    durationMinutes: z.number().int().min(5).max(480),
    tags: z.array(z.string().min(1).max(40)).max(20).default([]),
    /** A shared image from labs/_images (`base`, `python-ml`) or `./image` for the lab's own Dockerfile. */
    image: z.union([z.literal('./image'), z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a shared image name or ./image')]).default('base'),
    resources: resourcesSchema.default({}),
    network: z.enum(['isolated', 'egress']).default('isolated'),
    capabilities: z.array(z.string().regex(/^(CAP_)?[A-Z_]+$/, 'a capability name like NET_RAW')).default([]),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    setup: z.array(setupStepSchema).max(20).default([]),
    /** Parsed by the checker registry, one by one. */
    checks: z.array(z.unknown()).min(1, 'a lab needs at least one check'),
  })
  .strict();

export type LabFile = z.infer<typeof labSchema>;
export type SetupStep = z.infer<typeof setupStepSchema>;

/** A case in `cases/<name>/case.yaml`: another attempt and the score it must get. */
export const caseSchema = z
  .object({
    description: z.string().min(1).max(500),
    score: z.number().int().min(0),
    /**
     * What the attempt starts from: the untouched starter, or the reference solution
     * (laid over and committed first), so "the solution with one mistake" is a small diff.
     */
    from: z.enum(['starter', 'solution']).default('starter'),
  })
  .strict();
