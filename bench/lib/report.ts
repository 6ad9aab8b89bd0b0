/** Plain-text tables and an SVG plot of latency distributions (no dependencies). */

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export interface CdfSeries {
  name: string;
  /** [latency ms, cumulative share 0..1], ascending. */
  points: Array<[number, number]>;
}

/** A cumulative share from sorted samples, thinned to at most `max` points. */
export function cdfOf(sortedMs: number[], max = 400): Array<[number, number]> {
  const n = sortedMs.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / max));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i += step) out.push([sortedMs[i]!, (i + 1) / n]);
  out.push([sortedMs[n - 1]!, 1]);
  return out;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Cumulative distributions on a log-scale latency axis. */
export function cdfSvg(title: string, series: CdfSeries[]): string {
  const W = 900;
  const H = 520;
  const m = { l: 70, r: 20, t: 40, b: 150 };
  const all = series.flatMap((s) => s.points.map((p) => Math.max(p[0], 0.1)));
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 10)));
  const x = (ms: number) => m.l + ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - m.l - m.r);
  const y = (share: number) => H - m.b - share * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (let d = lo; d <= hi; d *= 10) {
    parts.push(
      `<line x1="${x(d)}" y1="${y(0)}" x2="${x(d)}" y2="${y(1)}" stroke="#ddd"/>`,
      `<text x="${x(d)}" y="${y(0) + 16}" text-anchor="middle">${d >= 1 ? d : d.toFixed(1)} ms</text>`,
    );
  }
  for (const s of [0, 0.5, 0.9, 0.99, 1]) {
    parts.push(
      `<line x1="${m.l}" y1="${y(s)}" x2="${W - m.r}" y2="${y(s)}" stroke="${s === 0 || s === 1 ? '#999' : '#eee'}"/>`,
      `<text x="${m.l - 6}" y="${y(s) + 4}" text-anchor="end">${Math.round(s * 100)}%</text>`,
    );
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    parts.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map(([ms, share]) => `${x(ms).toFixed(1)},${y(share).toFixed(1)}`).join(' ')}"/>`,
    );
    parts.push(
      `<rect x="${m.l}" y="${H - m.b + 34 + i * 17}" width="14" height="4" fill="${c}"/>`,
      `<text x="${m.l + 20}" y="${H - m.b + 40 + i * 17}">${esc(s.name)}</text>`,
    );
  });
  parts.push(
    `<text x="${m.l - 50}" y="${y(0.5)}" transform="rotate(-90 ${m.l - 50} ${y(0.5)})" text-anchor="middle">share of requests / events at or below</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
