/**
 * An xterm.js terminal in a container: calm dark theme, links clickable (web-links
 * addon), copy and paste with Ctrl+Shift+C / Ctrl+Shift+V (and Ctrl+C copies when text
 * is selected, like most terminals). The candidate's terminal fits its box (fit addon);
 * an observer's follows the candidate's size instead.
 *
 * The Terminal is exposed as `window.term` so browser tests can read its buffer.
 */
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal, type ITheme } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { copyText } from '../lib/clipboard.js';

declare global {
  interface Window {
    term?: Terminal;
  }
}

export const TERMINAL_THEME: ITheme = {
  background: '#15191f',
  foreground: '#e6e9ef',
  cursor: '#7dd3c0',
  cursorAccent: '#15191f',
  selectionBackground: '#3b4b63',
  black: '#1c2128',
  red: '#f28b82',
  green: '#8fd694',
  yellow: '#f2cc60',
  blue: '#8ab4f8',
  magenta: '#d7aefb',
  cyan: '#7dd3c0',
  white: '#d6dbe4',
  brightBlack: '#6b7685',
  brightRed: '#ffa198',
  brightGreen: '#a6e3a1',
  brightYellow: '#f9e2af',
  brightBlue: '#a5c8ff',
  brightMagenta: '#e5c1ff',
  brightCyan: '#a0e6d6',
  brightWhite: '#ffffff',
};

export const TERMINAL_FONT_SIZE = 14;
export const MIN_OBSERVER_FONT_SIZE = 9;

export interface TerminalView {
  term: Terminal;
  /** Fits the terminal to its box (candidate only); answers the new size. */
  fit(): { cols: number; rows: number } | null;
  dispose(): void;
}

/** Focuses the next (or previous) focusable element outside `container`, in document order. */
function moveFocusOut(container: HTMLElement, direction: 1 | -1): void {
  const focusable = [
    ...document.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])'),
  ].filter((el) => !container.contains(el) && el.offsetParent !== null);
  const after = focusable.filter((el) => container.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
  const before = focusable.filter((el) => container.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING);
  const target = direction === 1 ? (after[0] ?? before[0]) : (before[before.length - 1] ?? after[after.length - 1]);
  target?.focus();
}

export function createTerminalView(container: HTMLElement, options: { readOnly: boolean; label: string }): TerminalView {
  const term = new Terminal({
    fontFamily: '"DejaVu Sans Mono", "Cascadia Mono", "SF Mono", Menlo, Consolas, "Liberation Mono", monospace',
    fontSize: TERMINAL_FONT_SIZE,
    lineHeight: 1.15,
    cursorBlink: !options.readOnly,
    cursorStyle: options.readOnly ? 'underline' : 'block',
    disableStdin: options.readOnly,
    scrollback: 5000,
    theme: TERMINAL_THEME,
    allowProposedApi: false,
    screenReaderMode: false,
  });
  const fitAddon = new FitAddon();
  term.loadAddon(fitAddon);
  term.loadAddon(
    new WebLinksAddon((event, uri) => {
      event.preventDefault();
      window.open(uri, '_blank', 'noopener,noreferrer');
    }),
  );

  // Tab belongs to the shell (completion); Shift+Tab leaves the terminal, back to the
  // controls before it, so keyboard users are never trapped (bash leaves backtab unbound).
  term.attachCustomKeyEventHandler((event) => {
    if (event.type !== 'keydown') return true;
    if (event.key === 'Tab' && event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      moveFocusOut(container, -1);
      return false;
    }
    const key = event.key.toLowerCase();
    const copyShortcut = event.ctrlKey && event.shiftKey && key === 'c';
    const copySelection = event.ctrlKey && !event.shiftKey && key === 'c' && term.hasSelection();
    if (copyShortcut || copySelection || (event.metaKey && key === 'c')) {
      if (term.hasSelection()) {
        void copyText(term.getSelection());
        if (copySelection) term.clearSelection();
      }
      event.preventDefault();
      return false;
    }
    // Ctrl+Shift+V: let the browser paste into xterm's textarea (xterm sends it as input).
    if (event.ctrlKey && event.shiftKey && key === 'v') return false;
    return true;
  });

  term.open(container);
  term.textarea?.setAttribute('aria-label', options.label);
  window.term = term;

  return {
    term,
    fit: () => {
      if (options.readOnly) return null;
      try {
        fitAddon.fit();
      } catch {
        return null;
      }
      return { cols: term.cols, rows: term.rows };
    },
    dispose: () => {
      if (window.term === term) delete window.term;
      term.dispose();
    },
  };
}
