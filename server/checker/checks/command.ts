/**
 * `command`: a trusted command in the grader container, judged on its exit code and
 * output. The grader has its own root filesystem (from the image, read-only), the
 * workspace read-only at /workspace and the sandbox's network; the PATH is fixed, so
 * only the image's binaries run, never one the candidate wrote.
 *
 * Paths in `run` are paths in the grader container: the candidate's files are under
 * /workspace (data to inspect: a candidate's script run from there is the candidate's
 * code), the lab's trusted files under /grader (the lab's grader/ folder).
 *
 *   - id: hidden-eval
 *     type: command
 *     run: python3 /grader/evaluate_registered_model.py   # a string runs with /bin/sh -c
 *     timeoutSeconds: 120                                  # the check's own budget
 *     expect: { exitCode: 0, stdoutJson: [{ path: accuracy_gap, lte: 0.05 }] }
 *
 * A command that runs past its time is an `error` (the lab's budget is wrong or the
 * grader is slow), never a silent fail; so is a command that is not found (exit 127).
 */
import { z } from 'zod';
import { checkJson, compileTextPattern, jsonExpectationSchema, parseJsonBounded, patternSchema, preview } from '../json-expect.js';
import type { CheckContext, CheckResult, CheckType } from '../types.js';
import { checkError, clip, fail, pass } from '../types.js';
import { GRADER_ENV } from './http-curl.js';

const MAX_OUTPUT_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_SECONDS = 60;
/** Kept free of the runner's timeout so the check reports its own error first. */
const BUDGET_MARGIN_MS = 2_000;
const COMMAND_NOT_FOUND = 127;

const argv0Schema = z
  .string()
  .min(1)
  .refine((s) => s.startsWith('/') || !s.includes('/'), {
    message: 'the program is an absolute path in the grader (/usr/bin/python3) or a name looked up on the fixed PATH (python3)',
  });

/** A directory under /workspace, written relative to it. */
const cwdSchema = z
  .string()
  .min(1)
  .max(500)
  .refine((s) => !s.startsWith('/') && !s.split('/').includes('..') && !s.includes('\0'), {
    message: 'a directory relative to /workspace, without ..',
  });

export const commandSpecSchema = z.strictObject({
  type: z.literal('command'),
  /** A string runs with `/bin/sh -c`; a list is the argv itself. */
  run: z.union([z.string().min(1).max(20_000), z.tuple([argv0Schema], z.string().max(20_000)).refine((a) => a.length <= 200, 'at most 200 arguments')]),
  /** Working directory, relative to /workspace (default: /workspace). */
  cwd: cwdSchema.optional(),
  /** Extra environment (PATH, HOME, LANG are fixed unless set here). */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string().max(10_000)).optional(),
  expect: z
    .strictObject({
      exitCode: z.number().int().min(0).max(255).default(0),
      stdoutMatches: patternSchema.optional(),
      stdoutNotMatches: patternSchema.optional(),
      stderrMatches: patternSchema.optional(),
      stderrNotMatches: patternSchema.optional(),
      /** stdout is one JSON document; each expectation is a path into it. */
      stdoutJson: z.array(jsonExpectationSchema).min(1).max(100).optional(),
    })
    .default({ exitCode: 0 }),
});

export type CommandSpec = z.output<typeof commandSpecSchema> & {
  /** The check's own time budget (the common `timeoutSeconds` field). */
  timeoutSeconds?: number;
};

export const commandCheck: CheckType<CommandSpec> = {
  type: 'command',
  schema: commandSpecSchema as z.ZodType<CommandSpec>,
  run: runCommandCheck,
};

function display(run: CommandSpec['run']): string {
  const text = typeof run === 'string' ? run : run.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return `\`${oneLine.length > 80 ? `${oneLine.slice(0, 79)}…` : oneLine}\``;
}

function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines[lines.length - 1];
  return line === undefined ? undefined : line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

async function runCommandCheck(spec: CommandSpec, ctx: CheckContext): Promise<CheckResult> {
  const cmd = typeof spec.run === 'string' ? ['/bin/sh', '-c', spec.run] : [...spec.run];
  const what = display(spec.run);
  const timeoutMs = Math.max(1000, (spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 - BUDGET_MARGIN_MS);
  const r = await ctx.execGrader(cmd, {
    cwd: spec.cwd ? `/workspace/${spec.cwd}` : '/workspace',
    env: { ...GRADER_ENV, ...spec.env },
    timeoutMs,
    maxOutputBytes: MAX_OUTPUT_BYTES,
    signal: ctx.signal,
  });
  const evidence = clip(
    `exit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}${r.truncated ? ' (output cut at 1 MiB)' : ''}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`,
    4000,
  );
  const expect = spec.expect;
  if (r.timedOut) return checkError('TIMEOUT', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
  if (r.exitCode === COMMAND_NOT_FOUND && expect.exitCode !== COMMAND_NOT_FOUND) {
    return checkError('COMMAND_NOT_FOUND', `${what} exited 127 (a command not found in the grader): ${lastLine(r.stderr) ?? 'no output'}`);
  }

  if (r.exitCode !== expect.exitCode) {
    const said = lastLine(r.stderr) ?? lastLine(r.stdout);
    return fail(`${what} exited ${r.exitCode}, expected ${expect.exitCode}${said ? `: ${said}` : ''}`, evidence);
  }
  const problems: string[] = [];
  const streams = [
    ['stdout', r.stdout, expect.stdoutMatches, expect.stdoutNotMatches],
    ['stderr', r.stderr, expect.stderrMatches, expect.stderrNotMatches],
  ] as const;
  for (const [name, text, matches, notMatches] of streams) {
    if (matches !== undefined && !compileTextPattern(matches).test(text)) {
      const said = lastLine(text);
      problems.push(`${name} does not match /${matches}/${said ? ` (last line: ${preview(said)})` : ` (${name} is empty)`}`);
    }
    if (notMatches !== undefined) {
      const m = compileTextPattern(notMatches).exec(text);
      if (m) problems.push(`${name} contains ${preview(m[0])}, which must not match /${notMatches}/`);
    }
  }
  if (expect.stdoutJson) {
    if (r.truncated && Buffer.byteLength(r.stdout) >= MAX_OUTPUT_BYTES) {
      problems.push('stdout is larger than 1 MiB, too large to read as JSON');
    } else {
      const doc = parseJsonBounded(r.stdout.trim(), MAX_OUTPUT_BYTES);
      if (!doc.ok) problems.push(`stdout ${doc.error ?? 'is not JSON'}`);
      else {
        for (const e of expect.stdoutJson) {
          const why = checkJson(doc.value, e);
          if (why) problems.push(why);
        }
      }
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    return fail(`${what} exited ${r.exitCode}, but ${shown}`, evidence);
  }
  return pass(evidence);
}
