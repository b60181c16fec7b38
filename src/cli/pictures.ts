// The PNGs the CLI writes, as bytes: image grids, reconstructions, loss curves, the latent t-SNE plot.

import { renderPng } from '../node/canvas.js';
import { drawImageGrid, drawLossCurve, drawScatter, imageGridSize } from '../vae/draw.js';

const SCALE = 3;

/** n images of 28 x 28 (values in [0, 1]) in a grid of `cols` columns. */
export function imageGridPng(images: Float32Array, n: number, cols: number): Promise<Uint8Array> {
  const opts = { cols, scale: SCALE, pad: 2 };
  const size = imageGridSize(n, 28, 28, opts);
  return renderPng(size.width, size.height, (ctx) => {
    drawImageGrid(ctx, images, n, 28, 28, opts);
  });
}

/** Rows of `cols` originals, each above the row of their reconstructions. */
export function reconstructionsPng(originals: Float32Array, recons: Float32Array, n: number, cols = 8): Promise<Uint8Array> {
  const px = 28 * 28;
  const rows = Math.ceil(n / cols);
  const grid = new Float32Array(rows * 2 * cols * px).fill(1);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / cols);
    const c = i % cols;
    grid.set(originals.subarray(i * px, (i + 1) * px), ((2 * r) * cols + c) * px);
    grid.set(recons.subarray(i * px, (i + 1) * px), ((2 * r + 1) * cols + c) * px);
  }
  return imageGridPng(grid, rows * 2 * cols, cols);
}

export function lossCurvePng(train: number[], test: number[]): Promise<Uint8Array> {
  return renderPng(640, 400, (ctx) => {
    drawLossCurve(ctx, [{ name: 'train', values: train }, { name: 'test', values: test }], {
      width: 640, height: 400, title: 'Loss per image (BCE + KL, nats)', xLabel: 'epoch', yLabel: 'loss',
    });
  });
}

export function scatterPng(points: Float32Array, labels: Int32Array, title: string): Promise<Uint8Array> {
  return renderPng(720, 600, (ctx) => {
    drawScatter(ctx, points, labels, { width: 720, height: 600, title });
  });
}
