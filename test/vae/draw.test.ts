// Pixel tests of the figure drawing on a real @napi-rs/canvas canvas: grid grey levels, legend colours, curves.
import { createCanvas } from '@napi-rs/canvas';
import { describe, expect, it } from 'vitest';

import { type Canvas2D, drawImageGrid, drawLossCurve, drawScatter, imageGridCell, imageGridSize, niceTicks, TAB10 } from '../../src/vae/draw.js';

function canvas(w: number, h: number): { ctx: Canvas2D; px: (x: number, y: number) => [number, number, number, number] } {
  const c = createCanvas(w, h);
  const ctx = c.getContext('2d');
  return {
    ctx,
    px: (x, y) => {
      const d = ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data;
      return [d[0]!, d[1]!, d[2]!, d[3]!];
    },
  };
}

function hex(c: string): [number, number, number] {
  return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
}

describe('drawImageGrid', () => {
  it('puts each constant image at its cell with the right grey level, padding white, nothing outside', () => {
    const n = 7, h = 3, w = 4;
    const opts = { cols: 3, scale: 2, pad: 1, x: 5, y: 7 };
    const size = imageGridSize(n, h, w, opts);
    expect(size).toEqual({ width: 3 * (8 + 1) + 1, height: 3 * (6 + 1) + 1, cols: 3, rows: 3 });
    const images = new Float32Array(n * h * w);
    for (let i = 0; i < n; i++) images.fill(i / 6, i * h * w, (i + 1) * h * w);
    const { ctx, px } = canvas(60, 50);
    ctx.fillStyle = '#ff0000';
    ctx.fillRect(0, 0, 60, 50);
    drawImageGrid(ctx, images, n, h, w, opts);
    for (let i = 0; i < n; i++) {
      const cell = imageGridCell(i, h, w, opts);
      expect(cell.width).toBe(8);
      expect(cell.height).toBe(6);
      const g = Math.round(Math.fround(i / 6) * 255); // the images are float32
      for (const [dx, dy] of [[0, 0], [7, 5], [3, 2]] as const) expect(px(cell.x + dx, cell.y + dy)).toEqual([g, g, g, 255]);
      expect(px(cell.x - 1, cell.y)).toEqual([255, 255, 255, 255]); // padding to the left
      expect(px(cell.x, cell.y + 6)).toEqual([255, 255, 255, 255]); // padding below
    }
    // Cells past n in the last row are padding colour; outside the grid the canvas is untouched.
    const empty = imageGridCell(8, h, w, opts);
    expect(px(empty.x + 2, empty.y + 2)).toEqual([255, 255, 255, 255]);
    expect(px(4, 7)).toEqual([255, 0, 0, 255]);
    expect(px(5 + size.width, 7)).toEqual([255, 0, 0, 255]);
    expect(px(5, 7 + size.height)).toEqual([255, 0, 0, 255]);
    expect(px(5, 7)).toEqual([255, 255, 255, 255]);
  });

  it('scales pixel by pixel, clamps out-of-range values and honours padValue', () => {
    const images = new Float32Array([0, 1, -3, 7, NaN, 0.5]); // one 2x3 image
    const { ctx, px } = canvas(20, 20);
    drawImageGrid(ctx, images, 1, 2, 3, { scale: 3, pad: 2, padValue: 0 });
    const at = (r: number, c: number): number => px(2 + c * 3 + 1, 2 + r * 3 + 1)[0];
    expect([at(0, 0), at(0, 1), at(0, 2), at(1, 0), at(1, 1), at(1, 2)]).toEqual([0, 255, 0, 255, 0, 128]);
    expect(px(0, 0)).toEqual([0, 0, 0, 255]);
  });

  it('rejects too few values and bad options', () => {
    const { ctx } = canvas(10, 10);
    expect(() => drawImageGrid(ctx, new Float32Array(5), 1, 2, 3)).toThrow(/need 6 values, got 5/);
    expect(() => imageGridSize(4, 28, 28, { scale: 1.5 })).toThrow(/scale/);
    expect(() => imageGridSize(4, 0, 28)).toThrow(/h must be/);
  });
});

describe('drawScatter', () => {
  it('draws a legend swatch in each palette colour and points in their label colour', () => {
    const { ctx, px } = canvas(400, 300);
    const pts = new Float32Array([0, 0, 10, 10, 0, 10, 10, 0, 5, 5]);
    const labels = new Int32Array([0, 1, 2, 3, 9]);
    const layout = drawScatter(ctx, pts, labels, { width: 400, height: 300, title: 'latent space', alpha: 1, pointRadius: 4 });
    expect(layout.legend.map((l) => l.label)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    for (const [i, item] of layout.legend.entries()) {
      expect(item.color).toBe(TAB10[i]);
      const { x, y, width, height } = item.swatch;
      expect(px(x + width / 2, y + height / 2).slice(0, 3)).toEqual(hex(TAB10[i]!));
    }
    // Each point's centre has its label's colour.
    for (let i = 0; i < 5; i++) {
      const [cx, cy] = layout.toCanvas(pts[2 * i]!, pts[2 * i + 1]!);
      expect(px(cx, cy).slice(0, 3)).toEqual(hex(TAB10[labels[i]!]!));
    }
    // Points lie inside the plot area, legend to its right, and the background is white.
    const { plot } = layout;
    for (let i = 0; i < 5; i++) {
      const [cx, cy] = layout.toCanvas(pts[2 * i]!, pts[2 * i + 1]!);
      expect(cx).toBeGreaterThan(plot.x);
      expect(cx).toBeLessThan(plot.x + plot.width);
      expect(cy).toBeGreaterThan(plot.y);
      expect(cy).toBeLessThan(plot.y + plot.height);
    }
    expect(layout.legend[0]!.swatch.x).toBeGreaterThan(plot.x + plot.width);
    expect(px(2, 298)).toEqual([255, 255, 255, 255]);
  });

  it('uses custom labels and palettes, and checks its input', () => {
    const { ctx, px } = canvas(300, 200);
    const layout = drawScatter(ctx, [0, 0, 1, 1], [0, 1], { width: 300, height: 200, legendLabels: ['cat', 'dog'], palette: ['#000000', '#00ff00'] });
    expect(layout.legend.map((l) => [l.label, l.color])).toEqual([['cat', '#000000'], ['dog', '#00ff00']]);
    const s = layout.legend[1]!.swatch;
    expect(px(s.x + 6, s.y + 6).slice(0, 3)).toEqual([0, 255, 0]);
    expect(() => drawScatter(ctx, [0, 0, 1], [0], { width: 300, height: 200 })).toThrow(/pairs/);
    expect(() => drawScatter(ctx, [0, 0, 1, 1], [0], { width: 300, height: 200 })).toThrow(/1 labels for 2 points/);
  });
});

describe('drawLossCurve', () => {
  it('draws each series in its colour through its data points, with a legend', () => {
    const { ctx, px } = canvas(500, 300);
    const train = [200, 150, 120, 110, 105];
    const test = [210, 160, 130, 118, 112];
    const layout = drawLossCurve(ctx, [{ name: 'train', values: train }, { name: 'test', values: test }], { width: 500, height: 300, title: 'loss', xLabel: 'epoch', yLabel: 'loss' });
    expect(layout.legend.map((l) => l.label)).toEqual(['train', 'test']);
    for (const [i, item] of layout.legend.entries()) {
      const { x, y, width, height } = item.swatch;
      expect(px(x + width / 2, y + height / 2).slice(0, 3)).toEqual(hex(TAB10[i]!));
    }
    // Near each data point, some pixel has the series colour (lines are antialiased, so look at a 3x3 patch).
    const near = (cx: number, cy: number, rgb: [number, number, number]): boolean => {
      for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) {
        const p = px(cx + dx, cy + dy);
        if (Math.abs(p[0] - rgb[0]) + Math.abs(p[1] - rgb[1]) + Math.abs(p[2] - rgb[2]) < 30) return true;
      }
      return false;
    };
    for (const [si, values] of [train, test].entries()) {
      for (let e = 1; e < values.length - 1; e++) {
        const [cx, cy] = layout.toCanvas(e + 1, values[e]!);
        expect(near(cx, cy, hex(TAB10[si]!))).toBe(true);
      }
    }
  });

  it('copes with gaps, single points, log scale and empty input', () => {
    const { ctx } = canvas(300, 200);
    expect(() => drawLossCurve(ctx, [{ name: 'a', values: [1, NaN, 0.1, 0.01] }, { name: 'b', values: [5] }], { width: 300, height: 200, logY: true })).not.toThrow();
    expect(() => drawLossCurve(ctx, [], { width: 300, height: 200 })).not.toThrow();
    expect(() => drawLossCurve(ctx, [{ name: 'a', values: [1, 2], x: [1] }], { width: 300, height: 200 })).toThrow(/x positions/);
    expect(() => drawLossCurve(ctx, [], { width: 10, height: 10 })).toThrow(/at least 80x60/);
  });
});

describe('niceTicks', () => {
  it('gives round steps covering the range', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(-42, 38, 5)).toEqual([-40, -20, 0, 20]);
    expect(niceTicks(0.013, 0.052, 4)).toEqual([0.02, 0.03, 0.04, 0.05].map((v) => expect.closeTo(v, 10)));
    expect(niceTicks(3, 3)).toEqual([3]);
  });
});
