/**
 * The whole interview in a real browser (Debian's Chromium, playwright-core) against a
 * real server and sandbox: the interviewer signs in and creates a session; the candidate
 * opens the link and works in the terminal; the interviewer watches live and cannot
 * type; the connection survives a server restart; the candidate checks their work; the
 * interviewer ends the round; the report shows the score and the replay plays.
 *
 * Assertions read the terminal's buffer (`window.term`) and the page's text, never
 * pixels. Each page is saved to test-output/screenshots/ for people to look at.
 */
import { execFileSync } from 'node:child_process';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ServerProcess } from '../helpers/server-process.js';
import { collectErrors, launchChromium, screenshot, terminalSize, terminalText, waitForTerminal } from './browser.js';

const VIEWPORT = { width: 1280, height: 800 };
const PROMPT = /candidate@opslab:[^\n]*\$/;

describe('an interview in the browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let staffContext: BrowserContext;
  let candidateContext: BrowserContext;
  let staff: Page;
  let candidate: Page;
  let base: string;
  let sessionId = '';
  let candidateLink = '';
  let broken = false;
  const errors: string[] = [];

  /** Runs a step unless an earlier one failed (then it is skipped, not failed again). */
  const step = (name: string, fn: () => Promise<void>, timeout?: number) =>
    it(
      name,
      async (ctx) => {
        if (broken) ctx.skip();
        try {
          await fn();
        } catch (e) {
          broken = true;
          if (errors.length > 0) console.error(`browser errors so far:\n${errors.join('\n')}`);
          throw e;
        }
      },
      timeout,
    );

  beforeAll(async () => {
    // The pages the server serves: built now when web/ changed (a no-op otherwise).
    execFileSync('bash', ['scripts/setup/web-build.sh'], { cwd: REPO_ROOT, stdio: 'inherit' });
    server = await ServerProcess.start();
    // The server's public URL (and so the origin allowed to open terminals) is localhost.
    base = `http://localhost:${server.port}`;
    browser = await launchChromium();
    staffContext = await browser.newContext({ viewport: VIEWPORT });
    candidateContext = await browser.newContext({ viewport: VIEWPORT });
    staff = await staffContext.newPage();
    candidate = await candidateContext.newPage();
    collectErrors(staff, 'interviewer', errors);
    collectErrors(candidate, 'candidate', errors);
  });

  afterAll(async () => {
    await browser?.close();
    if (sessionId && server?.child) await server.api('POST', `/api/sessions/${sessionId}/end`).catch(() => undefined);
    await server?.stop();
  });

  step('the interviewer signs in with a staff token', async () => {
    await staff.goto(`${base}/`);
    await staff.waitForURL(/\/sign-in/);
    await expect.poll(() => staff.locator('h1').textContent()).toBe('Sign in');
    // A wrong token is answered in words.
    await staff.getByLabel('Staff token').fill('osl_s_not-a-real-token-at-all-000000');
    await staff.getByTestId('sign-in').click();
    await expect.poll(() => staff.locator('.notice-error').textContent()).toContain("wasn't recognised");
    await screenshot(staff, '01-sign-in');
    await staff.getByLabel('Staff token').fill(server.adminToken);
    await staff.getByTestId('sign-in').click();
    await staff.waitForURL(/\/$|\/sessions$/);
    await expect.poll(() => staff.locator('h1').textContent()).toBe('Sessions');
    await expect.poll(() => staff.getByTestId('live-sessions').textContent()).toContain('No session is running');
    await screenshot(staff, '02-sessions-empty');
  });

  step('the interviewer reads the lab catalog and creates a session for "hello"', async () => {
    await staff.getByRole('link', { name: 'Labs' }).click();
    const card = staff.getByTestId('lab-hello');
    await card.waitFor();
    const text = await card.textContent();
    expect(text).toContain('Hello, opslab');
    expect(text).toContain('easy');
    expect(text).toContain('15 min');
    expect(text).toContain('warm-up');
    await card.locator('summary').click();
    expect(await card.textContent()).toContain('greeting.txt says hello');
    await screenshot(staff, '03-labs');

    await staff.getByTestId('start-hello').click();
    await staff.getByLabel("Candidate's name").fill('Ada Lovelace');
    await staff.getByTestId('create-session').click();
    const link = staff.getByTestId('candidate-link');
    await link.waitFor();
    candidateLink = await link.inputValue();
    expect(candidateLink).toMatch(/\/s\/[a-f0-9]{20}#token=osl_c_/);
    sessionId = /\/s\/([a-f0-9]{20})/.exec(candidateLink)?.[1] ?? '';
    await screenshot(staff, '04-session-created');
    await staff.getByTestId('observe-link').click();
    await staff.waitForURL(new RegExp(`/observe/${sessionId}$`));
  });

  step('the candidate opens the link and types in the terminal', async () => {
    await candidate.goto(candidateLink);
    // The invite leaves the address bar at once.
    await expect.poll(() => candidate.url()).toBe(`${base}/s/${sessionId}`);
    await expect.poll(() => candidate.getByTestId('brief').textContent(), { timeout: 15_000 }).toContain('Create a file');
    await expect.poll(() => candidate.getByTestId('lab-title').textContent()).toBe('Hello, opslab');
    await expect.poll(() => candidate.getByTestId('connection-state').getAttribute('data-state'), { timeout: 60_000 }).toBe('connected');
    await waitForTerminal(candidate, PROMPT, 30_000);
    expect(await candidate.getByTestId('time-left').textContent()).toMatch(/^1[45]:\d\d$/);
    // The terminal fits its box, wider than the default 80 columns at 1280×800.
    const size = await terminalSize(candidate);
    expect(size?.cols).toBeGreaterThan(80);

    await candidate.getByTestId('terminal').click();
    await candidate.keyboard.type('echo hello > greeting.txt && git add greeting.txt && git commit -qm "Say hello" && echo DONE-$((6*7))\n');
    await waitForTerminal(candidate, 'DONE-42');
    await screenshot(candidate, '05-candidate-terminal');
    // Keyboard users are not trapped: Shift+Tab leaves the terminal for the controls.
    await candidate.keyboard.press('Shift+Tab');
    expect(await candidate.evaluate(() => !document.querySelector('[data-testid=terminal]')?.contains(document.activeElement))).toBe(true);
    expect(await candidate.evaluate(() => document.activeElement?.tagName)).toMatch(/BUTTON|A|INPUT|TEXTAREA|SELECT/);
    await candidate.getByTestId('terminal').click();
  });

  step("the interviewer's observe page shows the same terminal live, and typing there changes nothing", async () => {
    await expect.poll(() => staff.getByTestId('connection-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    await waitForTerminal(staff, 'DONE-42');
    // Live: what the candidate types now appears on the interviewer's screen.
    await candidate.keyboard.type('echo live-$((20+3))\n');
    await waitForTerminal(staff, 'live-23');
    // The observer follows the candidate's size.
    expect(await terminalSize(staff)).toEqual(await terminalSize(candidate));

    await staff.getByTestId('terminal').click();
    await staff.keyboard.type('echo INTRUDER-$((3*3))\n');
    await candidate.keyboard.type('echo after-$((40+2))\n');
    await waitForTerminal(candidate, 'after-42');
    await waitForTerminal(staff, 'after-42');
    expect(await terminalText(candidate)).not.toContain('INTRUDER');
    expect(await terminalText(staff)).not.toContain('INTRUDER');
    // In a smaller window the observer keeps the candidate's columns, in a smaller font.
    await staff.setViewportSize({ width: 1024, height: 700 });
    await expect
      .poll(() =>
        staff.evaluate(() => {
          const box = document.querySelector('[data-testid="terminal"]');
          const screen = box?.querySelector('.xterm-screen');
          return box && screen ? screen.getBoundingClientRect().width <= box.clientWidth + 1 : false;
        }),
      )
      .toBe(true);
    expect(await terminalSize(staff)).toEqual(await terminalSize(candidate));
    await screenshot(staff, '06-observe-small-window');
    await staff.setViewportSize(VIEWPORT);
    expect(await staff.getByTestId('candidate-name').textContent()).toBe('Ada Lovelace');
    expect(await staff.getByTestId('read-only').textContent()).toContain('Read-only');
    await screenshot(staff, '06-observe');
  });

  step('both terminals come back by themselves after the server restarts, with the same shell', async () => {
    await candidate.keyboard.type('export MARK=kept-$((5*5))\n');
    await waitForTerminal(candidate, /export MARK=kept-\$\(\(5\*5\)\)\n[^\n]*\$/);
    await server.kill('SIGTERM');
    await expect.poll(() => candidate.getByTestId('connection-state').getAttribute('data-state'), { timeout: 15_000 }).not.toBe('connected');
    await screenshot(candidate, '07-candidate-reconnecting');
    await server.spawn();
    await expect.poll(() => candidate.getByTestId('connection-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    // The screen comes back (replayed by the server, just after the connection opens), and
    // the shell kept its variable.
    await expect.poll(() => terminalText(candidate), { timeout: 10_000 }).toContain('DONE-42');
    await candidate.getByTestId('terminal').click();
    await candidate.keyboard.type('echo "$MARK"\n');
    await waitForTerminal(candidate, /\nkept-25/);
    await expect.poll(() => staff.getByTestId('connection-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    await waitForTerminal(staff, /\nkept-25/);
  });

  step('the candidate checks their work and sees the result', async () => {
    await candidate.getByTestId('check-work').click();
    await expect.poll(() => candidate.getByTestId('results-summary').textContent(), { timeout: 60_000 }).toContain('All 2 checks pass');
    expect(await candidate.getByTestId('score').textContent()).toContain('2 / 2');
    expect(await candidate.getByTestId('check-greeting-file').getAttribute('data-status')).toBe('passed');
    expect(await candidate.getByTestId('check-committed').getAttribute('data-status')).toBe('passed');
    await screenshot(candidate, '08-candidate-checked');
    // The interviewer sees the result arrive (server-sent events).
    await expect.poll(() => staff.getByTestId('live-checks').textContent(), { timeout: 30_000 }).toContain('the candidate checked their work');
    expect(await staff.getByTestId('live-checks').textContent()).toContain('2 / 2');
  });

  step('the interviewer writes notes, then ends the round', async () => {
    const notes = staff.getByTestId('notes');
    if (await notes.count()) {
      await notes.click();
      await staff.keyboard.type('Calm, read the README first. Committed cleanly.');
      await expect.poll(() => staff.getByTestId('notes-status').textContent(), { timeout: 15_000 }).toMatch(/^Saved at/);
    }
    // More time: the candidate's countdown moves at once (a control message on their terminal).
    const before = await candidate.getByTestId('time-left').textContent();
    expect(before).toMatch(/^1[0-5]:\d\d$/);
    await staff.getByTestId('extend-minutes').selectOption('10');
    await staff.getByTestId('extend').click();
    await expect.poll(() => staff.locator('.page-message').textContent()).toContain('Added 10 minutes');
    await expect.poll(() => candidate.getByTestId('time-left').textContent(), { timeout: 10_000 }).toMatch(/^2[0-5]:\d\d$/);
    await screenshot(staff, '09-observe-checked');
    await staff.getByTestId('end-session').click();
    await staff.getByTestId('end-dialog').waitFor();
    await screenshot(staff, '10-end-dialog');
    await staff.getByTestId('end-dialog').getByTestId('confirm').click();
    await expect.poll(() => staff.getByTestId('session-state').getAttribute('data-state'), { timeout: 60_000 }).toBe('ended');
    await expect.poll(() => candidate.getByTestId('finished').textContent(), { timeout: 30_000 }).toContain('Your session has ended');
    await screenshot(candidate, '11-candidate-ended');
  });

  step('the report shows the score, the checks and a replay that plays', async () => {
    await staff.getByTestId('report-link').click();
    await staff.waitForURL(new RegExp(`/report/${sessionId}$`));
    await expect.poll(() => staff.getByTestId('report-score').textContent(), { timeout: 15_000 }).toContain('2 / 2');
    const checks = await staff.getByTestId('report-checks').textContent();
    expect(checks).toContain('greeting.txt says hello');
    expect(checks).toContain('Final check when the session ended');
    expect(await staff.getByTestId('grading-history').textContent()).toContain('Candidate pressed');

    // The replay: the player is there with a marker per grading, and it plays.
    await expect.poll(() => staff.evaluate(() => typeof (globalThis as unknown as { player?: unknown }).player), { timeout: 15_000 }).toBe('object');
    await expect.poll(() => staff.locator('[data-testid="replay"] .ap-marker-container').count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    await staff.evaluate(() => (globalThis as unknown as { player: { play(): Promise<unknown> } }).player.play());
    await expect
      .poll(() => staff.evaluate(() => (globalThis as unknown as { player: { getCurrentTime(): number } }).player.getCurrentTime()), { timeout: 15_000 })
      .toBeGreaterThan(0.5);
    await expect.poll(() => staff.getByTestId('replay').textContent(), { timeout: 60_000 }).toContain('DONE-42');
    await screenshot(staff, '12-report');
    await screenshot(staff, '13-report-full', { fullPage: true });

    await staff.getByRole('link', { name: '← Sessions' }).click();
    await expect.poll(() => staff.getByTestId('past-sessions').textContent()).toContain('Ada Lovelace');
    const pastRow = staff.getByTestId(`session-${sessionId}`);
    expect(await pastRow.getByTestId('session-score').textContent()).toBe('2 / 2');
    // The past list says how long the round took (here under a minute or two), not a raw end time.
    expect(await pastRow.getByTestId('session-length').textContent()).toMatch(/^(under a minute|[12] min)$/);
    await screenshot(staff, '14-sessions');
  });

  step('an expired invite is explained in words', async () => {
    const page = await candidateContext.newPage();
    await page.goto(candidateLink);
    await expect.poll(() => page.getByTestId('message-page').textContent(), { timeout: 15_000 }).toContain('This invite has expired');
    expect(await page.getByTestId('message-page').textContent()).toContain('ask your interviewer for a new link');
    await screenshot(page, '15-invite-expired');
    await page.close();
  });

  step('a candidate with five minutes left is warned, and can finish with "I\'m done"', async () => {
    const created = await server.api<{ id: string; candidateUrl: string }>('POST', '/api/sessions', {
      body: { lab: 'hello', candidate: { name: 'Grace Hopper' }, durationMinutes: 5 },
    });
    expect(created.status).toBe(201);
    const page = await candidateContext.newPage();
    collectErrors(page, 'second candidate', errors);
    await page.goto(created.body.candidateUrl.replace(/^http:\/\/[^/]+/, base));
    await expect.poll(() => page.getByTestId('time-warning').textContent(), { timeout: 60_000 }).toContain('Five minutes left');
    expect(await page.locator('.countdown').getAttribute('data-level')).toBe('warning');
    await expect.poll(() => page.getByTestId('connection-state').getAttribute('data-state'), { timeout: 60_000 }).toBe('connected');
    await waitForTerminal(page, PROMPT, 30_000);
    await screenshot(page, '16-candidate-five-minutes');
    await page.getByTestId('done').click();
    await page.getByTestId('done-dialog').waitFor();
    await screenshot(page, '17-candidate-done-dialog');
    await page.getByTestId('done-dialog').getByTestId('confirm').click();
    await expect.poll(() => page.getByTestId('finished').textContent(), { timeout: 60_000 }).toContain('Thank you, you are done');
    const after = await server.api<{ state: string }>('GET', `/api/sessions/${created.body.id}`);
    expect(after.body.state).toBe('ended');
    await page.close();
  });

  it('left nothing in the browser console', () => {
    // Errors the app logged itself would mean something went unexplained on a page.
    const unexpected = errors.filter((e) => !/Failed to load resource|WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|net::ERR/.test(e));
    expect(unexpected).toEqual([]);
  });
});
