/**
 * A small SVG line-chart helper for the analysis plots (no dependency): each chart is written as SVG
 * with its data beside it as JSON.
 */
import { writeAtomic } from '../io/file-system.js';

/** One series: a name and its points. */
export interface Series {
  /** Legend label (also the polyline's `data-series` attribute). */
  name: string;
  /** `[x, y]` pairs in data units, joined by a line in the given order; y > 0 with `logY`. */
  points: ReadonlyArray<readonly [number, number]>;
}

/** What {@link lineChartSvg} draws. */
export interface ChartSpec {
  /** Title drawn centred above the plot. */
  title: string;
  /** Label of the x axis. */
  xLabel: string;
  /** Label of the y axis (` (log)` is appended with `logY`). */
  yLabel: string;
  /** The lines to draw, coloured in order from a fixed 8-colour palette; the axes span all their points. */
  series: Series[];
  /** Logarithmic y axis (all y > 0). */
  logY?: boolean;
  /** A horizontal reference line, e.g. the image size or p = 1. */
  referenceY?: {
    /** Height of the line in y data units (> 0 with `logY`); the y axis is widened to include it. */
    value: number;
    /** Text written in grey just above the line, at its left end. */
    label: string;
  };
  /** SVG width in pixels, legend column included (default 720). */
  width?: number;
  /** SVG height in pixels (default 400). */
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function ticks(min: number, max: number, count = 5): number[] {
  if (min === max) return [min];
  const step = (max - min) / (count - 1);
  return Array.from({ length: count }, (_, i) => min + i * step);
}

const label = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString());

/** Renders a line chart as an SVG document. Throws on empty series or non-positive values with `logY`. */
export function lineChartSvg(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 400;
  const margin = { left: 70, right: 200, top: 40, bottom: 50 };
  const points = spec.series.flatMap((s) => s.points);
  if (points.length === 0) throw new RangeError('chart: no points to draw');
  if (points.some(([x, y]) => !Number.isFinite(x) || !Number.isFinite(y))) throw new RangeError('chart: points must be finite numbers');
  if (spec.logY && points.some(([, y]) => y <= 0)) throw new RangeError('chart: logY needs y > 0');
  const ty = (y: number) => (spec.logY ? Math.log10(y) : y);
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => ty(y));
  if (spec.referenceY) ys.push(ty(spec.referenceY.value));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const px = (x: number) => margin.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (width - margin.left - margin.right);
  const py = (y: number) => height - margin.bottom - ((ty(y) - y0) / (y1 - y0)) * (height - margin.top - margin.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escape(spec.title)}</text>`);
  const axisY = height - margin.bottom;
  parts.push(`<line x1="${margin.left}" y1="${axisY}" x2="${width - margin.right}" y2="${axisY}" stroke="black"/>`);
  parts.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${axisY}" stroke="black"/>`);
  for (const t of ticks(x0, x1)) {
    parts.push(`<text x="${px(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    const value = spec.logY ? 10 ** t : t;
    const y = height - margin.bottom - ((t - y0) / (y1 - y0)) * (height - margin.top - margin.bottom);
    parts.push(`<text x="${margin.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label(value)}</text>`);
  }
  parts.push(`<text x="${(margin.left + width - margin.right) / 2}" y="${height - 12}" text-anchor="middle">${escape(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(margin.top + axisY) / 2}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}${spec.logY ? ' (log)' : ''}</text>`);
  if (spec.referenceY) {
    const y = py(spec.referenceY.value).toFixed(1);
    parts.push(`<line x1="${margin.left}" y1="${y}" x2="${width - margin.right}" y2="${y}" stroke="gray" stroke-dasharray="4 4"/>`);
    parts.push(`<text x="${margin.left + 6}" y="${(Number(y) - 4).toFixed(1)}" fill="gray">${escape(spec.referenceY.label)}</text>`);
  }
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const coords = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline data-series="${escape(s.name)}" fill="none" stroke="${color}" stroke-width="2" points="${coords}"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = margin.top + 16 * i;
    parts.push(`<line x1="${width - margin.right + 10}" y1="${ly}" x2="${width - margin.right + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${width - margin.right + 34}" y="${ly + 4}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * Writes `<path>.svg` and `<path>.json` (the spec with its data), each atomically.
 *
 * @returns The paths of the two files written.
 */
export async function saveChart(path: string, spec: ChartSpec): Promise<{
  /** Path of the SVG file, `<path>.svg`. */
  svg: string;
  /** Path of the JSON file holding the spec, `<path>.json`. */
  json: string;
}> {
  const svg = `${path}.svg`;
  const json = `${path}.json`;
  await writeAtomic(svg, lineChartSvg(spec));
  await writeAtomic(json, JSON.stringify(spec, null, 1));
  return { svg, json };
}
