/**
 * The terminal recording, played with asciinema-player. Every grading is a marker on
 * the timeline ("Check: 1/2 points"), placed at its time after the recording's start
 * (the cast header's `timestamp`). The markers are written into the recording as `m`
 * events rather than passed as options, so they stay in place when long idle pauses
 * are shortened.
 */
import * as AsciinemaPlayer from 'asciinema-player';
import 'asciinema-player/dist/bundle/asciinema-player.css';
import type { StoredReport } from '../../api/types.js';

declare global {
  interface Window {
    player?: AsciinemaPlayer.Player;
  }
}

const TRIGGER_LABEL: Record<string, string> = {
  candidate: 'Candidate checked',
  staff: 'Interviewer checked',
  end: 'Session ended',
  expiry: 'Time ran out',
  test: 'Test',
};

export const IDLE_LIMIT_SECONDS = 3;

type CastEvent = [number, string, unknown];

export interface PreparedCast {
  text: string;
  markers: { time: number; label: string }[];
  duration: number;
}

/** The cast with a marker event for each grading; throws if it is not asciicast v2. */
export function prepareCast(cast: string, reports: StoredReport[]): PreparedCast {
  const lines = cast.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.shift();
  if (!headerLine) throw new Error('empty recording');
  const header = JSON.parse(headerLine) as { version?: number; timestamp?: number };
  if (header.version !== 2) throw new Error('not an asciicast v2 recording');
  const start = typeof header.timestamp === 'number' ? header.timestamp : null;
  const events: CastEvent[] = [];
  for (const line of lines) {
    try {
      const e = JSON.parse(line) as CastEvent;
      if (Array.isArray(e) && typeof e[0] === 'number') events.push(e);
    } catch {
      // a line cut short while the recording is still being written
    }
  }
  const markers =
    start === null
      ? []
      : reports
          .map((r) => ({
            time: Math.max(0, Date.parse(r.gradedAt) / 1000 - start),
            label: `${TRIGGER_LABEL[r.trigger] ?? r.trigger}: ${r.score}/${r.maxScore}`,
          }))
          .filter((m) => Number.isFinite(m.time));
  const merged: CastEvent[] = [...events, ...markers.map((m): CastEvent => [m.time, 'm', m.label])];
  merged.sort((a, b) => a[0] - b[0]);
  // The player shows only markers before the end, and the final check often is the end.
  const last = merged[merged.length - 1];
  if (!last) merged.push([0, 'o', '']);
  else if (last[1] === 'm') merged.push([last[0] + 1, 'o', '']);
  const duration = merged[merged.length - 1]?.[0] ?? 0;
  return { text: [headerLine, ...merged.map((e) => JSON.stringify(e))].join('\n') + '\n', markers, duration };
}

export function mountReplay(container: HTMLElement, prepared: PreparedCast): AsciinemaPlayer.Player {
  const player = AsciinemaPlayer.create({ data: prepared.text }, container, {
    // Fitting the width keeps the text readable; fitting both made it tiny at 1280×800.
    fit: 'width',
    idleTimeLimit: IDLE_LIMIT_SECONDS,
    terminalFontSize: '13px',
    terminalFontFamily: '"DejaVu Sans Mono", "Cascadia Mono", Menlo, Consolas, monospace',
    theme: 'opslab',
    controls: true,
    preload: true,
  });
  window.player = player;
  return player;
}
