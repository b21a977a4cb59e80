/**
 * Debian's Chromium driven by playwright-core, the way the machines here allow
 * (docs: /work/shared/ENVIRONMENT.md): no browser download, the flags that keep
 * Chromium off the closed network, a fresh profile per launch (playwright gives every
 * launch its own temporary --user-data-dir and removes it on close), and helpers that
 * read an xterm terminal's buffer as text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/server-process.js';

export const CHROMIUM = process.env.OPSLAB_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(REPO_ROOT, 'test-output/screenshots');

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run 'bash scripts/setup/browser.sh' (installs Debian's chromium), or set OPSLAB_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: options.fullPage ?? false });
  return file;
}

/** The structural part of xterm's Terminal the tests read (`window.term`). */
interface XtermLike {
  cols: number;
  rows: number;
  buffer: { active: { length: number; getLine(i: number): { translateToString(trim?: boolean): string } | undefined } };
}

/** Every line of the page's terminal (scrollback included), as text. */
export function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const term = (globalThis as unknown as { term?: XtermLike }).term;
    if (!term) return '';
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  });
}

export function terminalSize(page: Page): Promise<{ cols: number; rows: number } | null> {
  return page.evaluate(() => {
    const term = (globalThis as unknown as { term?: XtermLike }).term;
    return term ? { cols: term.cols, rows: term.rows } : null;
  });
}

/** Waits until the terminal's text matches, failing with what it shows. */
export async function waitForTerminal(page: Page, pattern: string | RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = await terminalText(page);
    if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) return text;
    if (Date.now() > deadline) {
      throw new Error(`terminal did not show ${String(pattern)} within ${timeoutMs} ms; it shows:\n${text.split('\n').slice(-15).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Collects what a page logs as errors, to print when a step fails. */
export function collectErrors(page: Page, label: string, into: string[]): void {
  page.on('pageerror', (e) => into.push(`${label} page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') into.push(`${label} console: ${m.text()}`);
  });
}
