/**
 * sessionStorage that never throws (private windows and locked-down browsers refuse it):
 * values then live in memory for this page's life only.
 */
const memory = new Map<string, string>();

export function readStored(key: string): string | null {
  try {
    return window.sessionStorage.getItem(key) ?? memory.get(key) ?? null;
  } catch {
    return memory.get(key) ?? null;
  }
}

export function writeStored(key: string, value: string): void {
  memory.set(key, value);
  try {
    window.sessionStorage.setItem(key, value);
  } catch {
    // memory only
  }
}

export function removeStored(key: string): void {
  memory.delete(key);
  try {
    window.sessionStorage.removeItem(key);
  } catch {
    // memory only
  }
}
