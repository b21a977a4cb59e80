/**
 * A hand-written SVG of keystroke echo latency distributions side by side (no plotting
 * library): on the left the empirical CDF of each series on a log-scale ms axis, on the
 * right one row per series with the p1–p99 range, the p25–p75 box, the median and p99.
 */
import { quantile } from './stats.js';

export interface PlotSeries {
  name: string;
  ms: readonly number[];
  color?: string;
  dashed?: boolean;
}

const PALETTE = ['#1f6fb4', '#2c9c3c', '#d0352b', '#8c5bb8', '#e08a1e', '#555555'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

/** The largest 1, 2 or 5 x 10^k at or below v, and the smallest at or above it. */
function niceBelow(v: number): number {
  const e = Math.floor(Math.log10(v));
  return ([5, 2, 1].map((m) => m * 10 ** e).find((c) => c <= v * 1.0001) ?? 10 ** e);
}
function niceAbove(v: number): number {
  const e = Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * 10 ** e).find((c) => c >= v * 0.9999) ?? 10 ** (e + 1);
}

const tickLabel = (v: number) => String(Number(v.toPrecision(1)));

function logTicks(lo: number, hi: number): { v: number; major: boolean }[] {
  const out: { v: number; major: boolean }[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push({ v, major: m === 1 });
    }
  }
  return out;
}

export function echoPlotSvg(title: string, input: PlotSeries[]): string {
  const series = input.filter((s) => s.ms.length > 0).map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const W = 1000;
  const H = 460;
  const top = 56;
  const bottom = 60;
  const plotH = H - top - bottom;
  const left = { x: 70, w: 400 };
  const right = { x: 600, w: 370 };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  if (series.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no echo samples</text></svg>`);
    return parts.join('\n');
  }
  const all = series.flatMap((s) => s.ms).filter((v) => v > 0);
  const lo = niceBelow(Math.min(...all));
  const hi = niceAbove(Math.max(...all));
  const xOf = (panel: { x: number; w: number }) => (v: number) =>
    panel.x + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panel.w;
  const ticks = logTicks(lo, hi);

  const axis = (panel: { x: number; w: number }, label: string) => {
    const x = xOf(panel);
    for (const t of ticks) {
      parts.push(`<line x1="${x(t.v).toFixed(1)}" y1="${top}" x2="${x(t.v).toFixed(1)}" y2="${top + plotH}" stroke="${t.major ? '#cccccc' : '#eeeeee'}"/>`);
      parts.push(`<text x="${x(t.v).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#333">${tickLabel(t.v)}</text>`);
    }
    parts.push(`<rect x="${panel.x}" y="${top}" width="${panel.w}" height="${plotH}" fill="none" stroke="#888"/>`);
    parts.push(`<text x="${panel.x + panel.w / 2}" y="${top + plotH + 36}" text-anchor="middle">${esc(label)}</text>`);
  };

  // Left: CDFs.
  axis(left, 'echo latency, ms (log scale)');
  const xl = xOf(left);
  const yOf = (p: number) => top + plotH - p * plotH;
  for (const p of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    parts.push(`<line x1="${left.x}" y1="${yOf(p).toFixed(1)}" x2="${left.x + left.w}" y2="${yOf(p).toFixed(1)}" stroke="${p === 0.5 || p === 0.99 ? '#bbbbbb' : '#eeeeee'}"${p === 0.99 ? ' stroke-dasharray="4 3"' : ''}/>`);
    // 1 would sit on top of 0.99: label it on the right-hand side instead.
    const lx = p === 1 ? left.x + left.w + 6 : left.x - 6;
    parts.push(`<text x="${lx}" y="${(yOf(p) + 4).toFixed(1)}" text-anchor="${p === 1 ? 'start' : 'end'}" fill="#333">${p}</text>`);
  }
  parts.push(`<text x="18" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + plotH / 2})">fraction of keystrokes</text>`);
  parts.push(`<text x="${left.x}" y="${top - 8}" fill="#333">cumulative distribution</text>`);
  for (const s of series) {
    const sorted = [...s.ms].sort((a, b) => a - b);
    const n = sorted.length;
    const step = Math.max(1, Math.floor(n / 600));
    let d = `M${xl(sorted[0]!).toFixed(1)},${yOf(0).toFixed(1)}`;
    for (let i = 0; i < n; i += step) d += ` L${xl(sorted[i]!).toFixed(1)},${yOf((i + 1) / n).toFixed(1)}`;
    d += ` L${xl(sorted[n - 1]!).toFixed(1)},${yOf(1).toFixed(1)}`;
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
  }

  // Right: percentile rows.
  axis(right, 'echo latency, ms (log scale)');
  parts.push(`<text x="${right.x}" y="${top - 8}" fill="#333">p1–p99 line, p25–p75 box, median bar, p99 dot</text>`);
  const xr = xOf(right);
  const rowH = plotH / series.length;
  series.forEach((s, i) => {
    const cy = top + rowH * (i + 0.5);
    const q = (p: number) => quantile(s.ms, p);
    const [p1, p25, p50, p75, p99] = [q(0.01), q(0.25), q(0.5), q(0.75), q(0.99)];
    const bh = Math.min(22, rowH * 0.35);
    parts.push(`<line x1="${xr(p1).toFixed(1)}" y1="${cy}" x2="${xr(p99).toFixed(1)}" y2="${cy}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<rect x="${xr(p25).toFixed(1)}" y="${(cy - bh / 2).toFixed(1)}" width="${Math.max(1, xr(p75) - xr(p25)).toFixed(1)}" height="${bh.toFixed(1)}" fill="${s.color}" fill-opacity="0.25" stroke="${s.color}"/>`);
    parts.push(`<line x1="${xr(p50).toFixed(1)}" y1="${(cy - bh / 2 - 3).toFixed(1)}" x2="${xr(p50).toFixed(1)}" y2="${(cy + bh / 2 + 3).toFixed(1)}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<circle cx="${xr(p99).toFixed(1)}" cy="${cy}" r="4" fill="${s.color}"/>`);
    parts.push(`<text x="${right.x - 8}" y="${(cy + 4).toFixed(1)}" text-anchor="end" font-weight="bold" fill="${s.color}">${esc(s.name)}</text>`);
    parts.push(`<text x="${right.x - 8}" y="${(cy + 19).toFixed(1)}" text-anchor="end" fill="#333" font-size="11">p50 ${fmt(p50)} · p99 ${fmt(p99)}</text>`);
  });

  // Legend in the CDF's bottom right corner (slow and rare: empty).
  const legendH = series.length * 17 + 8;
  parts.push(`<rect x="${left.x + left.w - 198}" y="${top + plotH - legendH - 6}" width="192" height="${legendH}" fill="#ffffff" fill-opacity="0.85" stroke="#dddddd"/>`);
  series.forEach((s, i) => {
    const lx = left.x + left.w - 190;
    const ly = top + plotH - 10 - (series.length - 1 - i) * 17;
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly}" fill="#222">${esc(s.name)} (n=${s.ms.length})</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
