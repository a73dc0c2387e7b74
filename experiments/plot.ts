/**
 * Line charts for experiment results: a vega-lite spec compiled by vega-lite,
 * rendered to SVG by vega (no browser), converted to PNG by sharp.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** One point of a line chart. */
export interface Point {
  x: number;
  y: number;
  /** Series name (one line each), e.g. `ours`, `tfs`, `nft`, `paper ours`. */
  series: string;
  /** Dashed lines for reference values (the paper's). */
  dashed?: boolean;
}

export interface LineChartArgs {
  title: string;
  xTitle: string;
  yTitle: string;
  points: Point[];
  /** Logarithmic y axis. */
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Renders a line chart to SVG text. */
export async function lineChartSvg(args: LineChartArgs): Promise<string> {
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: args.title,
    width: args.width ?? 520,
    height: args.height ?? 300,
    background: 'white',
    data: { values: args.points.map((p) => ({ ...p, dash: p.dashed ? 'paper (dashed)' : 'measured' })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: args.xTitle },
      y: { field: 'y', type: 'quantitative', title: args.yTitle, scale: args.logY ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
      strokeDash: { field: 'dash', type: 'nominal', title: null, scale: { domain: ['measured', 'paper (dashed)'], range: [[1, 0], [6, 4]] } },
    },
  };
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Renders a line chart to a PNG file. */
export async function lineChartPng(path: string, args: LineChartArgs): Promise<void> {
  const svg = await lineChartSvg(args);
  await writeFile(path, await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer());
}

/**
 * A row of heat maps (e.g. per-pixel connection counts, 28x28 each) as one PNG,
 * each map scaled from its own minimum (black) to its own maximum (white) and
 * enlarged `scale` times.
 */
export async function heatmapGridPng(path: string, maps: Float32Array[], height: number, width: number, scale = 8): Promise<void> {
  const gap = 2;
  const tileW = width * scale;
  const tileH = height * scale;
  const outW = maps.length * tileW + (maps.length - 1) * gap;
  const rgb = Buffer.alloc(outW * tileH * 3, 255);
  maps.forEach((m, t) => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of m) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) {
        const v = max > min ? (m[Math.floor(y / scale) * width + Math.floor(x / scale)] - min) / (max - min) : 0;
        // A dark-to-bright ramp (black -> red -> yellow -> white).
        const r = Math.min(1, v * 3);
        const g = Math.min(1, Math.max(0, v * 3 - 1));
        const b = Math.min(1, Math.max(0, v * 3 - 2));
        const o = (y * outW + t * (tileW + gap) + x) * 3;
        rgb[o] = Math.round(r * 255);
        rgb[o + 1] = Math.round(g * 255);
        rgb[o + 2] = Math.round(b * 255);
      }
    }
  });
  await sharp(rgb, { raw: { width: outW, height: tileH, channels: 3 } }).png().toFile(path);
}
