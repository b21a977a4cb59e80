/**
 * The `opslab` command. Each subcommand loads the config once and reports problems
 * as plain sentences with a non-zero exit, never a stack trace.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { describeError, isAppError } from '../errors.js';
import { resolveLabImage } from '../labs/images.js';
import { rootNeedOf } from '../labs/root-need.js';
import { labJsonSchema } from '../labs/json-schema.js';
import { testLab } from '../labs/lab-test.js';
import { scaffoldLab } from '../labs/scaffold.js';
import { formatProblem, loadLabs, loadLab } from '../labs/loader.js';
import { createDriver } from '../sandbox/factory.js';
import { createLogger, startServer } from '../main.js';
import { generateToken, hashToken } from '../auth/tokens.js';
import { openStore } from '../store/store.js';
import { USER_ROLES, type UserRole } from '../store/users-repo.js';
import { VERSION } from '../version.js';

function config(): Config {
  const { config, warnings } = loadConfig();
  for (const w of warnings) process.stderr.write(`opslab: warning: ${w}\n`);
  return config;
}

async function serve(): Promise<void> {
  const cfg = config();
  const logger = createLogger(cfg);
  const server = await startServer(cfg, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down; sandboxes keep running and are re-adopted at the next start');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function userAdd(name: string, options: { role: UserRole }): Promise<void> {
  const cfg = config();
  const store = await openStore(cfg);
  try {
    const token = generateToken('staff');
    await store.users.create({ name, role: options.role, tokenHash: hashToken(token) });
    process.stdout.write(`${token}\n`);
    process.stderr.write(`opslab: created ${options.role} "${name}"; the token above is shown only once\n`);
  } finally {
    await store.close();
  }
}

function labValidate(dirs: string[]): void {
  const cfg = config();
  let bad = 0;
  let good = 0;
  if (dirs.length === 0) {
    const result = loadLabs(cfg.labsDir);
    for (const lab of result.labs.values()) {
      good++;
      process.stdout.write(`ok   ${lab.id}\n`);
    }
    for (const broken of result.invalid) {
      bad++;
      for (const p of broken.problems) process.stdout.write(`FAIL ${formatProblem(p)}\n`);
    }
  } else {
    for (const dir of dirs) {
      const abs = path.resolve(dir);
      const { lab, problems } = loadLab(abs, process.cwd());
      if (lab) {
        good++;
        process.stdout.write(`ok   ${lab.id}\n`);
      } else {
        bad++;
        for (const p of problems) process.stdout.write(`FAIL ${formatProblem(p)}\n`);
      }
    }
  }
  process.stdout.write(`${good} valid, ${bad} invalid\n`);
  if (bad > 0) process.exitCode = 1;
}

async function labTest(dirs: string[], options: { keep?: boolean; driver: 'docker' | 'kubernetes' | 'local' }): Promise<void> {
  const cfg = config();
  const logger = createLogger({ logLevel: cfg.logLevel === 'info' ? 'warn' : cfg.logLevel });
  const targets = dirs.length ? dirs.map((d) => path.resolve(d)) : [...loadLabs(cfg.labsDir).labs.values()].map((l) => l.dir);
  const driver = await createDriver(
    { ...cfg, driver: { ...cfg.driver, kind: options.driver } },
    { ownerId: `lab-test-${process.pid}`, logger },
  );
  let failed = 0;
  for (const dir of targets) {
    const { lab, problems } = loadLab(dir, process.cwd());
    if (!lab) {
      failed++;
      for (const p of problems) process.stdout.write(`FAIL ${formatProblem(p)}\n`);
      continue;
    }
    process.stdout.write(`\nlab ${lab.id} (${lab.checks.length} checks, image ${lab.image})\n`);
    const rootNeed = driver.runsRoot ? null : rootNeedOf(lab);
    if (rootNeed) {
      failed++;
      process.stdout.write(`  FAIL  cannot run on the ${driver.kind} driver, which runs every sandbox process as the candidate: ${rootNeed}\n`);
      continue;
    }
    const image = await resolveLabImage(lab, cfg);
    const results = await testLab(lab, {
      driver,
      image,
      logger,
      keep: options.keep,
      defaultDiskMb: cfg.sandbox.diskMb,
      onAttempt: (r) => {
        process.stdout.write(
          `  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(24)} ${`${r.score}/${r.maxScore}`.padStart(7)}   expected ${r.expected}${r.ref ? `   (kept: ${r.ref.id})` : ''}\n`,
        );
        for (const m of r.mismatches) process.stdout.write(`          ${m}\n`);
      },
    }).catch((e: unknown) => {
      process.stdout.write(`  FAIL  ${describeError(e)}\n`);
      return null;
    });
    if (!results || results.some((r) => !r.ok)) failed++;
  }
  process.stdout.write(`\n${targets.length - failed} lab(s) passed, ${failed} failed\n`);
  if (failed > 0) process.exitCode = 1;
}

const program = new Command('opslab').version(VERSION).description('Hands-on labs for MLOps interviews');
program.command('serve').description('run the opslab server').action(serve);
const user = program.command('user').description('manage staff users');
user
  .command('add <name>')
  .description('create a staff user and print their token once')
  .addOption(new Option('--role <role>', 'the role').choices([...USER_ROLES]).default('interviewer'))
  .action(userAdd);
const lab = program.command('lab').description('work with labs');
lab.command('validate [dirs...]').description('check lab folders (all labs when none given)').action(labValidate);
lab
  .command('schema')
  .description('print the JSON Schema of lab.yaml (labs/lab.schema.json is this output)')
  .action(() => {
    process.stdout.write(`${JSON.stringify(labJsonSchema(), null, 2)}\n`);
  });
lab
  .command('new <id>')
  .description('scaffold a lab that passes its own test, to grow from')
  .action((id: string) => {
    const dir = scaffoldLab(config().labsDir, id);
    process.stdout.write(`created ${path.relative(process.cwd(), dir) || dir}\nnext: ./bin/opslab lab test ${path.relative(process.cwd(), dir)}\n`);
  });
lab
  .command('test [dirs...]')
  .description('prove labs: the starter fails, the solution gets full marks, each case its declared score')
  .option('--keep', 'leave the sandboxes running to poke at')
  .addOption(new Option('--driver <kind>', 'where sandboxes run').choices(['docker', 'kubernetes', 'local']).default('docker'))
  .action(labTest);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`opslab: ${isAppError(e) ? e.message : describeError(e)}\n`);
  process.exit(isAppError(e) && e.code === 'CONFIG_INVALID' ? 2 : 1);
});
