/**
 * A sliding-window counter per key (a client address, a user id): at most `max` events in
 * any `windowMs`; past that, callers answer `429 RATE_LIMITED` with Retry-After until the
 * oldest event leaves the window. In memory: limits reset when the server restarts,
 * which is fine for what they guard against (guessing tokens, runaway scripts).
 */
import { systemClock, type Clock } from '../store/clock.js';

export class SlidingWindowLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: Clock = systemClock,
  ) {}

  /** Milliseconds until `key` may act again, or 0 if it may now. */
  retryAfterMs(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.max) return 0;
    return Math.max(1, (recent[0] ?? 0) + this.windowMs - this.now().getTime());
  }

  record(key: string): void {
    const recent = this.recent(key);
    recent.push(this.now().getTime());
    this.events.set(key, recent);
    if (this.events.size > 10_000) this.sweep();
  }

  /** Forgets `key` (a successful sign-in clears its failures). */
  clear(key: string): void {
    this.events.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now().getTime() - this.windowMs;
    return (this.events.get(key) ?? []).filter((t) => t > since);
  }

  private sweep(): void {
    for (const key of [...this.events.keys()]) {
      const recent = this.recent(key);
      if (recent.length === 0) this.events.delete(key);
      else this.events.set(key, recent);
    }
  }
}
