// Figures of the VAE product (image grids, labelled scatter plots, loss curves) drawn on any Canvas 2D context; browser-safe.

/** Pixels as a Canvas ImageData holds them: RGBA bytes, row-major. */
export interface ImageDataLike {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/**
 * The members of CanvasRenderingContext2D these functions use. A browser canvas context, an
 * OffscreenCanvas context and @napi-rs/canvas's context all satisfy it, so this module needs
 * neither the DOM nor a canvas package.
 */
export interface Canvas2D {
  /** As CanvasRenderingContext2D.fillStyle. */
  fillStyle: unknown;
  /** As CanvasRenderingContext2D.strokeStyle. */
  strokeStyle: unknown;
  /** As CanvasRenderingContext2D.lineWidth. */
  lineWidth: number;
  /** As CanvasRenderingContext2D.globalAlpha. */
  globalAlpha: number;
  /** As CanvasRenderingContext2D.font. */
  font: string;
  /** As CanvasRenderingContext2D.textAlign. */
  textAlign: string;
  /** As CanvasRenderingContext2D.textBaseline. */
  textBaseline: string;
  /** As CanvasRenderingContext2D.fillRect. */
  fillRect(x: number, y: number, w: number, h: number): void;
  /** As CanvasRenderingContext2D.strokeRect. */
  strokeRect(x: number, y: number, w: number, h: number): void;
  /** As CanvasRenderingContext2D.createImageData. */
  createImageData(width: number, height: number): ImageDataLike;
  /** As CanvasRenderingContext2D.putImageData. */
  putImageData(image: ImageDataLike, dx: number, dy: number): void;
  /** As CanvasRenderingContext2D.fillText. */
  fillText(text: string, x: number, y: number): void;
  /** As CanvasRenderingContext2D.measureText. */
  measureText(text: string): {
    /** The text's width in canvas pixels. */
    width: number;
  };
  /** As CanvasRenderingContext2D.beginPath. */
  beginPath(): void;
  /** As CanvasRenderingContext2D.moveTo. */
  moveTo(x: number, y: number): void;
  /** As CanvasRenderingContext2D.lineTo. */
  lineTo(x: number, y: number): void;
  /** As CanvasRenderingContext2D.arc. */
  arc(x: number, y: number, radius: number, start: number, end: number): void;
  /** As CanvasRenderingContext2D.closePath. */
  closePath(): void;
  /** As CanvasRenderingContext2D.stroke. */
  stroke(): void;
  /** As CanvasRenderingContext2D.fill. */
  fill(): void;
  /** As CanvasRenderingContext2D.save. */
  save(): void;
  /** As CanvasRenderingContext2D.restore. */
  restore(): void;
  /** As CanvasRenderingContext2D.translate. */
  translate(x: number, y: number): void;
  /** As CanvasRenderingContext2D.rotate. */
  rotate(angle: number): void;
}

/** A rectangle on the canvas: top-left corner and size, in canvas pixels. */
export interface Rect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width in canvas pixels. */
  width: number;
  /** Height in canvas pixels. */
  height: number;
}

/** matplotlib's tab10: ten colours that stay distinct for the ten digit classes. */
export const TAB10: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

/** The legend names of MNIST's labels 0..9. */
export const DIGIT_LABELS: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

// Named families first: @napi-rs/canvas maps the generic 'sans-serif' to a serif face on some systems.
const FONT = '"DejaVu Sans", Helvetica, Arial, sans-serif';
const TEXT = '#222222';
const AXIS = '#444444';
const GRID = '#e6e6e6';

// ---------------------------------------------------------------------------------------------
// Image grids

/** Options of drawImageGrid and imageGridSize: columns, scale, padding, position. */
export interface ImageGridOptions {
  /** Images per row (default ceil(sqrt(n))). */
  cols?: number;
  /** Canvas pixels per image pixel (default 1; a positive integer). */
  scale?: number;
  /** Canvas pixels between images and around the grid (default 2). */
  pad?: number;
  /** Top-left corner of the grid on the canvas (default 0, 0). */
  x?: number;
  /** Top edge of the grid on the canvas (default 0). */
  y?: number;
  /** Grey level of the padding, in [0, 1] (default 1, white, so that dark-background digits stay apart). */
  padValue?: number;
}

/** The size drawImageGrid's grid takes, and its layout. */
export interface ImageGridSize {
  /** Width of the grid in canvas pixels. */
  width: number;
  /** Height of the grid in canvas pixels. */
  height: number;
  /** Images per row. */
  cols: number;
  /** Rows of images. */
  rows: number;
}

function gridParams(n: number, h: number, w: number, opts: ImageGridOptions): { cols: number; rows: number; scale: number; pad: number } {
  for (const [name, v] of [['n', n], ['h', h], ['w', w]] as const) {
    if (!Number.isInteger(v) || v < (name === 'n' ? 0 : 1)) throw new Error(`image grid: ${name} must be a ${name === 'n' ? 'non-negative' : 'positive'} integer, got ${v}`);
  }
  const cols = opts.cols ?? Math.max(1, Math.ceil(Math.sqrt(n)));
  const scale = opts.scale ?? 1;
  const pad = opts.pad ?? 2;
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`image grid: cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`image grid: scale must be a positive integer, got ${scale}`);
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`image grid: pad must be a non-negative integer, got ${pad}`);
  return { cols, rows: Math.max(1, Math.ceil(n / cols)), scale, pad };
}

/** The canvas size an image grid needs (padding on every side included). */
export function imageGridSize(n: number, h: number, w: number, opts: ImageGridOptions = {}): ImageGridSize {
  const { cols, rows, scale, pad } = gridParams(n, h, w, opts);
  return { width: cols * (w * scale + pad) + pad, height: rows * (h * scale + pad) + pad, cols, rows };
}

/** Where image i of a grid lands on the canvas (for captions or tests). */
export function imageGridCell(i: number, h: number, w: number, opts: ImageGridOptions & { cols: number }): Rect {
  const { scale, pad } = gridParams(i + 1, h, w, opts);
  const col = i % opts.cols;
  const row = Math.floor(i / opts.cols);
  return {
    x: (opts.x ?? 0) + pad + col * (w * scale + pad),
    y: (opts.y ?? 0) + pad + row * (h * scale + pad),
    width: w * scale,
    height: h * scale,
  };
}

/**
 * Draws n grey-level images (n*h*w values in [0, 1], row-major, image after image) as a grid.
 * Writes pixels directly (putImageData), so it ignores transforms and replaces what was there.
 * Values outside [0, 1] are clamped and NaN draws black.
 */
export function drawImageGrid(ctx: Canvas2D, images: Float32Array | ArrayLike<number>, n: number, h: number, w: number, opts: ImageGridOptions = {}): ImageGridSize {
  const size = imageGridSize(n, h, w, opts);
  const { cols, scale, pad } = gridParams(n, h, w, { ...opts, cols: size.cols });
  if (images.length < n * h * w) throw new Error(`drawImageGrid: ${n} images of ${h}x${w} need ${n * h * w} values, got ${images.length}`);
  const padValue = opts.padValue ?? 1;
  const img = ctx.createImageData(size.width, size.height);
  const data = img.data;
  const padByte = toByte(padValue);
  for (let k = 0; k < data.length; k += 4) {
    data[k] = data[k + 1] = data[k + 2] = padByte;
    data[k + 3] = 255;
  }
  const stride = size.width * 4;
  for (let i = 0; i < n; i++) {
    const ox = pad + (i % cols) * (w * scale + pad);
    const oy = pad + Math.floor(i / cols) * (h * scale + pad);
    const base = i * h * w;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const v = toByte(images[base + r * w + c]!);
        for (let dy = 0; dy < scale; dy++) {
          let k = (oy + r * scale + dy) * stride + (ox + c * scale) * 4;
          for (let dx = 0; dx < scale; dx++, k += 4) {
            data[k] = data[k + 1] = data[k + 2] = v;
          }
        }
      }
    }
  }
  ctx.putImageData(img, opts.x ?? 0, opts.y ?? 0);
  return size;
}

function toByte(v: number): number {
  if (!(v > 0)) return 0; // NaN too
  if (v >= 1) return 255;
  return Math.round(v * 255);
}

// ---------------------------------------------------------------------------------------------
// Axes shared by the scatter plot and the loss curve

/** About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

function fmtTick(v: number, ticks: readonly number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(v) || 1;
  if (Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3)) return v.toExponential(1);
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

interface Scale {
  lo: number;
  hi: number;
  ticks: number[];
}

function paddedScale(lo: number, hi: number, frac: number, target: number): Scale {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1, ticks: niceTicks(0, 1, target) };
  if (hi === lo) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  } else {
    const d = (hi - lo) * frac;
    lo -= d;
    hi += d;
  }
  return { lo, hi, ticks: niceTicks(lo, hi, target) };
}

function drawAxes(ctx: Canvas2D, plot: Rect, xs: Scale, ys: Scale, fmtY: (v: number) => string = (v) => fmtTick(v, ys.ticks)): void {
  const px = (v: number): number => plot.x + ((v - xs.lo) / (xs.hi - xs.lo)) * plot.width;
  const py = (v: number): number => plot.y + plot.height - ((v - ys.lo) / (ys.hi - ys.lo)) * plot.height;
  ctx.lineWidth = 1;
  ctx.strokeStyle = GRID;
  ctx.beginPath();
  for (const t of xs.ticks) {
    const x = Math.round(px(t)) + 0.5;
    ctx.moveTo(x, plot.y);
    ctx.lineTo(x, plot.y + plot.height);
  }
  for (const t of ys.ticks) {
    const y = Math.round(py(t)) + 0.5;
    ctx.moveTo(plot.x, y);
    ctx.lineTo(plot.x + plot.width, y);
  }
  ctx.stroke();
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(Math.round(plot.x) + 0.5, Math.round(plot.y) + 0.5, Math.round(plot.width), Math.round(plot.height));
  ctx.fillStyle = TEXT;
  ctx.font = `11px ${FONT}`;
  ctx.beginPath();
  for (const t of xs.ticks) {
    const x = Math.round(px(t)) + 0.5;
    ctx.moveTo(x, plot.y + plot.height);
    ctx.lineTo(x, plot.y + plot.height + 4);
  }
  for (const t of ys.ticks) {
    const y = Math.round(py(t)) + 0.5;
    ctx.moveTo(plot.x - 4, y);
    ctx.lineTo(plot.x, y);
  }
  ctx.stroke();
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of xs.ticks) ctx.fillText(fmtTick(t, xs.ticks), px(t), plot.y + plot.height + 6);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of ys.ticks) ctx.fillText(fmtY(t), plot.x - 6, py(t));
}

function drawTitle(ctx: Canvas2D, title: string | undefined, width: number): void {
  if (!title) return;
  ctx.fillStyle = TEXT;
  ctx.font = `bold 14px ${FONT}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(title, width / 2, 16);
}

function clearBackground(ctx: Canvas2D, width: number, height: number, background: string | null): void {
  if (background === null) return;
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, width, height);
}

/** Data <-> canvas coordinates for a plot area and its axis ranges (y in log10 when logY). */
function plotMaps(plot: Rect, xs: { lo: number; hi: number }, ys: { lo: number; hi: number }, logY = false): Pick<PlotLayout, 'toCanvas' | 'toData'> {
  return {
    toCanvas: (x, y) => [
      plot.x + ((x - xs.lo) / (xs.hi - xs.lo)) * plot.width,
      plot.y + plot.height - (((logY ? Math.log10(y) : y) - ys.lo) / (ys.hi - ys.lo)) * plot.height,
    ],
    toData: (cx, cy) => {
      const y = ys.lo + ((plot.y + plot.height - cy) / plot.height) * (ys.hi - ys.lo);
      return [xs.lo + ((cx - plot.x) / plot.width) * (xs.hi - xs.lo), logY ? 10 ** y : y];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Scatter plot of labelled points (t-SNE of the latent means, coloured by digit)

/** Options of drawScatter: size, title, legend names, colours, point style, background. */
export interface ScatterOptions {
  /** Canvas width in pixels. */
  width: number;
  /** Canvas height in pixels. */
  height: number;
  /** A title above the plot. */
  title?: string;
  /** One name per label value 0..k-1 (default '0'..'9'); labels outside that range use their number. */
  legendLabels?: readonly string[];
  /** Colour of label i is palette[i % palette.length] (default TAB10). */
  palette?: readonly string[];
  /** Point radius in canvas pixels (default 2.5). */
  pointRadius?: number;
  /** Point opacity (default 0.8, so that dense clusters still show their overlaps). */
  alpha?: number;
  /** Canvas background colour, or null to draw over what is there (default white). */
  background?: string | null;
}

/** One legend entry as drawn: its text, colour and swatch. */
export interface LegendItem {
  /** The entry's text. */
  label: string;
  /** The entry's colour. */
  color: string;
  /** The filled swatch square. */
  swatch: Rect;
}

/** Where drawScatter or drawLossCurve put things: the plot area, the legend, and coordinate maps. */
export interface PlotLayout {
  /** The data area inside the axes. */
  plot: Rect;
  /** The legend entries, top to bottom. */
  legend: LegendItem[];
  /** Data coordinates to canvas coordinates. */
  toCanvas(x: number, y: number): [number, number];
  /** Canvas coordinates to data coordinates (the inverse of toCanvas: where a pointer is, in the data). */
  toData(cx: number, cy: number): [number, number];
}

function legendColumnWidth(ctx: Canvas2D, labels: readonly string[]): number {
  ctx.font = `12px ${FONT}`;
  let w = 0;
  for (const l of labels) w = Math.max(w, ctx.measureText(l).width);
  return Math.ceil(w) + 34;
}

function checkSize(what: string, width: number, height: number): void {
  if (!(width >= 80 && height >= 60) || !Number.isFinite(width) || !Number.isFinite(height)) {
    throw new Error(`${what}: canvas must be at least 80x60 pixels, got ${width}x${height}`);
  }
}

/** Draws points (N*2 values, x then y) coloured by integer label, with axes, ticks and a legend on the right. */
export function drawScatter(ctx: Canvas2D, points: Float32Array | ArrayLike<number>, labels: Int32Array | ArrayLike<number>, opts: ScatterOptions): PlotLayout {
  const { width, height } = opts;
  checkSize('drawScatter', width, height);
  if (points.length % 2 !== 0) throw new Error(`drawScatter: points must hold x, y pairs, got ${points.length} values`);
  const n = points.length / 2;
  if (labels.length !== n) throw new Error(`drawScatter: ${labels.length} labels for ${n} points`);
  const palette = opts.palette ?? TAB10;
  if (palette.length === 0) throw new Error('drawScatter: palette is empty');
  let maxLabel = -1;
  for (let i = 0; i < n; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  const names = opts.legendLabels ?? DIGIT_LABELS;
  const legendCount = Math.max(names.length, maxLabel + 1);
  const legendNames = Array.from({ length: legendCount }, (_, i) => names[i] ?? String(i));
  const color = (label: number): string => palette[((label % palette.length) + palette.length) % palette.length]!;

  clearBackground(ctx, width, height, opts.background === undefined ? '#ffffff' : opts.background);
  drawTitle(ctx, opts.title, width);
  const legendW = legendColumnWidth(ctx, legendNames);
  const top = opts.title ? 34 : 12;
  const plot: Rect = { x: 52, y: top, width: Math.max(10, width - 52 - legendW - 12), height: Math.max(10, height - top - 30) };

  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i]!, y = points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    xlo = Math.min(xlo, x); xhi = Math.max(xhi, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
  }
  const xs = paddedScale(xlo, xhi, 0.05, Math.max(2, Math.round(plot.width / 90)));
  const ys = paddedScale(ylo, yhi, 0.05, Math.max(2, Math.round(plot.height / 60)));
  const { toCanvas, toData } = plotMaps(plot, xs, ys);
  drawAxes(ctx, plot, xs, ys);

  const r = opts.pointRadius ?? 2.5;
  ctx.save();
  ctx.globalAlpha = opts.alpha ?? 0.8;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i]!, y = points[2 * i + 1]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [cx, cy] = toCanvas(x, y);
    ctx.fillStyle = color(labels[i]!);
    ctx.beginPath();
    ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.restore();

  const legend: LegendItem[] = [];
  const lx = plot.x + plot.width + 14;
  const rowH = 18;
  const ly0 = plot.y + Math.max(0, (plot.height - legendCount * rowH) / 2);
  ctx.font = `12px ${FONT}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  for (let i = 0; i < legendCount; i++) {
    const swatch: Rect = { x: Math.round(lx), y: Math.round(ly0 + i * rowH + 3), width: 12, height: 12 };
    ctx.fillStyle = color(i);
    ctx.fillRect(swatch.x, swatch.y, swatch.width, swatch.height);
    ctx.fillStyle = TEXT;
    ctx.fillText(legendNames[i]!, swatch.x + 18, swatch.y + 6);
    legend.push({ label: legendNames[i]!, color: color(i), swatch });
  }
  return { plot, legend, toCanvas, toData };
}

// ---------------------------------------------------------------------------------------------
// Loss curves

/** One curve of drawLossCurve: its name, values and optional x and colour. */
export interface LossSeries {
  /** The legend name. */
  name: string;
  /** The y values (non-finite ones leave a gap). */
  values: readonly number[];
  /** x of each value (default 1, 2, 3, ...: epochs). */
  x?: readonly number[];
  /** The colour (default: the palette's next). */
  color?: string;
}

/** Options of drawLossCurve: size, labels, log scale, colours, background. */
export interface LossCurveOptions {
  /** Canvas width in pixels. */
  width: number;
  /** Canvas height in pixels. */
  height: number;
  /** A title above the plot. */
  title?: string;
  /** The x axis label. */
  xLabel?: string;
  /** The y axis label. */
  yLabel?: string;
  /** Logarithmic y axis (values <= 0 are skipped). */
  logY?: boolean;
  /** Colour of series i is palette[i % palette.length] (default TAB10). */
  palette?: readonly string[];
  /** Canvas background colour, or null to draw over what is there (default white). */
  background?: string | null;
}

/** Draws one line per series (gaps at non-finite values), axes with labels, and a legend in the top-right corner. */
export function drawLossCurve(ctx: Canvas2D, series: readonly LossSeries[], opts: LossCurveOptions): PlotLayout {
  const { width, height } = opts;
  checkSize('drawLossCurve', width, height);
  const palette = opts.palette ?? TAB10;
  const logY = opts.logY ?? false;
  for (const s of series) {
    if (s.x && s.x.length !== s.values.length) throw new Error(`drawLossCurve: series '${s.name}' has ${s.values.length} values but ${s.x.length} x positions`);
  }
  const fy = (v: number): number => (logY ? (v > 0 ? Math.log10(v) : NaN) : v);
  const xAt = (s: LossSeries, i: number): number => (s.x ? s.x[i]! : i + 1);
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (const s of series) {
    s.values.forEach((v, i) => {
      const y = fy(v), x = xAt(s, i);
      if (!Number.isFinite(y) || !Number.isFinite(x)) return;
      xlo = Math.min(xlo, x); xhi = Math.max(xhi, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
    });
  }

  clearBackground(ctx, width, height, opts.background === undefined ? '#ffffff' : opts.background);
  drawTitle(ctx, opts.title, width);
  const top = opts.title ? 34 : 12;
  const left = opts.yLabel ? 74 : 58;
  const bottom = opts.xLabel ? 48 : 30;
  const plot: Rect = { x: left, y: top, width: Math.max(10, width - left - 16), height: Math.max(10, height - top - bottom) };
  const xs = paddedScale(xlo, xhi, 0.02, Math.max(2, Math.round(plot.width / 90)));
  const ys = paddedScale(ylo, yhi, 0.05, Math.max(2, Math.round(plot.height / 50)));
  const { toCanvas, toData } = plotMaps(plot, xs, ys, logY);
  drawAxes(ctx, plot, xs, ys, logY ? (v) => fmtTick(10 ** v, [10 ** v, 10 ** (v + 1)]) : undefined);

  ctx.fillStyle = TEXT;
  ctx.font = `12px ${FONT}`;
  if (opts.xLabel) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(opts.xLabel, plot.x + plot.width / 2, height - 6);
  }
  if (opts.yLabel) {
    ctx.save();
    ctx.translate(14, plot.y + plot.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(opts.yLabel, 0, 0);
    ctx.restore();
  }

  const colors = series.map((s, i) => s.color ?? palette[i % palette.length]!);
  ctx.lineWidth = 2;
  series.forEach((s, si) => {
    ctx.strokeStyle = colors[si]!;
    ctx.fillStyle = colors[si]!;
    ctx.beginPath();
    let penDown = false;
    let drawn = 0;
    let last: [number, number] = [0, 0];
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]!;
      const x = xAt(s, i);
      if (!Number.isFinite(fy(v)) || !Number.isFinite(x)) {
        penDown = false;
        continue;
      }
      last = toCanvas(x, v);
      if (penDown) ctx.lineTo(last[0], last[1]);
      else ctx.moveTo(last[0], last[1]);
      penDown = true;
      drawn++;
    }
    ctx.stroke();
    // A series of one point has no line to show: mark it with a dot.
    if (drawn === 1) {
      ctx.beginPath();
      ctx.arc(last[0], last[1], 3, 0, 2 * Math.PI);
      ctx.fill();
    }
  });

  const legend: LegendItem[] = [];
  if (series.length > 0) {
    const names = series.map((s) => s.name);
    const boxW = legendColumnWidth(ctx, names) - 6;
    const rowH = 18;
    const bx = plot.x + plot.width - boxW - 8;
    const by = plot.y + 8;
    ctx.fillStyle = 'rgba(255,255,255,0.85)';
    ctx.fillRect(bx, by, boxW, series.length * rowH + 6);
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#cccccc';
    ctx.strokeRect(Math.round(bx) + 0.5, Math.round(by) + 0.5, Math.round(boxW), series.length * rowH + 6);
    ctx.font = `12px ${FONT}`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    series.forEach((s, i) => {
      const swatch: Rect = { x: Math.round(bx + 6), y: Math.round(by + 6 + i * rowH + 4), width: 16, height: 4 };
      ctx.fillStyle = colors[i]!;
      ctx.fillRect(swatch.x, swatch.y, swatch.width, swatch.height);
      ctx.fillStyle = TEXT;
      ctx.fillText(s.name, swatch.x + 22, swatch.y + 2);
      legend.push({ label: s.name, color: colors[i]!, swatch });
    });
  }
  return { plot, legend, toCanvas, toData };
}
