/**
 * Time left until `expiresAt`, ticking each second. From five minutes left it turns
 * amber and announces it once to screen readers; at zero it says the time is up.
 */
import { h } from '../lib/dom.js';
import { formatClock } from '../lib/format.js';

export const WARNING_SECONDS = 5 * 60;

export interface Countdown {
  el: HTMLElement;
  setExpiry(expiresAt: string | null): void;
  /** Stop ticking and show `text` instead (e.g. "Ended"). */
  freeze(text: string): void;
  dispose(): void;
}

export function countdown(options: { onWarning?(): void; onExpired?(): void } = {}): Countdown {
  const value = h('span', { class: 'countdown-value', 'data-testid': 'time-left' }, '—');
  const caption = h('span', { class: 'countdown-caption' }, 'left');
  const announce = h('span', { class: 'visually-hidden', role: 'alert' });
  const el = h('div', { class: 'countdown', 'data-level': 'normal', title: 'Time left in this session' }, value, caption, announce);
  let expiresAt: number | null = null;
  let warned = false;
  let expired = false;
  let timer: ReturnType<typeof setInterval> | null = null;

  const tick = () => {
    if (expiresAt === null) {
      value.textContent = '—';
      return;
    }
    const left = (expiresAt - Date.now()) / 1000;
    if (left <= 0) {
      value.textContent = "Time's up";
      caption.textContent = '';
      el.dataset.level = 'over';
      if (!expired) {
        expired = true;
        options.onExpired?.();
      }
      return;
    }
    value.textContent = formatClock(left);
    caption.textContent = 'left';
    const warning = left <= WARNING_SECONDS;
    el.dataset.level = warning ? 'warning' : 'normal';
    if (warning && !warned) {
      warned = true;
      announce.textContent = `${Math.ceil(left / 60)} minutes left.`;
      options.onWarning?.();
    }
    if (!warning) warned = false; // time was added
    expired = false;
  };

  return {
    el,
    setExpiry(iso) {
      expiresAt = iso ? new Date(iso).getTime() : null;
      tick();
      timer ??= setInterval(tick, 1000);
    },
    freeze(text) {
      if (timer) clearInterval(timer);
      timer = null;
      value.textContent = text;
      caption.textContent = '';
      el.dataset.level = 'frozen';
    },
    dispose() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
