// Training progress output: a live one-line bar on terminals, one plain line per epoch otherwise, or JSON lines.

/** Where progress goes: process.stderr/stdout, or any object with write() (tests capture into a string). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'auto' | 'bar' | 'plain' | 'json';

export interface ProgressOptions {
  stream: ProgressStream;
  /** 'auto' (default): the bar when stream.isTTY, plain lines otherwise. */
  mode?: ProgressMode;
  epochs: number;
  stepsPerEpoch: number;
  /** Epoch number shown for the first epoch when resuming (default 1). */
  firstEpoch?: number;
  /** Milliseconds clock (default performance.now), replaceable for tests. */
  now?: () => number;
  /** Least time between two redraws of the bar (default 100 ms, ~10 Hz). */
  minIntervalMs?: number;
}

export interface StepInfo {
  /** 1-based step within the epoch. */
  step: number;
  /** Images in this step's batch. */
  images: number;
  /** Per-image averages over the batch (or running averages over the epoch: the caller decides). */
  loss: number;
  bce?: number;
  kl?: number;
}

export interface EpochSummary {
  loss: number;
  bce?: number;
  kl?: number;
  testLoss?: number;
  testBce?: number;
  testKl?: number;
  /** Anything else worth a column (learning rate, ...), printed as key=value and kept in JSON. */
  extra?: Record<string, number | string>;
}

type Resolved = 'bar' | 'plain' | 'json';

const CLEAR_EOL = '\x1b[K';

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function fmtLoss(v: number | undefined): string {
  if (v === undefined) return '';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(1) : Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(4);
}

function fmtRate(v: number): string {
  if (!Number.isFinite(v) || v <= 0) return '-';
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

/**
 * Reports a training run. Call epochStart(), step() after every batch, epochEnd() with the epoch's
 * averages, and finish() once. log() prints a line without tearing the bar.
 */
export class TrainingProgress {
  readonly mode: Resolved;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly minInterval: number;
  private readonly epochs: number;
  private readonly steps: number;
  private readonly firstEpoch: number;
  private epoch = 0; // 0-based index of the current epoch within this run
  private nextEpoch = 0;
  private epochT0 = 0;
  private runT0: number;
  private epochImages = 0;
  private runImages = 0;
  private lastStep = 0;
  private runStepsDone = 0;
  private lastDraw = -Infinity;
  private barShown = false;
  private lastInfo: StepInfo | null = null;
  private finished = false;

  constructor(opts: ProgressOptions) {
    if (!Number.isInteger(opts.epochs) || opts.epochs < 0) throw new Error(`progress: epochs must be a non-negative integer, got ${opts.epochs}`);
    if (!Number.isInteger(opts.stepsPerEpoch) || opts.stepsPerEpoch < 1) throw new Error(`progress: stepsPerEpoch must be a positive integer, got ${opts.stepsPerEpoch}`);
    this.stream = opts.stream;
    const mode = opts.mode ?? 'auto';
    this.mode = mode === 'auto' ? (opts.stream.isTTY ? 'bar' : 'plain') : mode;
    this.now = opts.now ?? (() => performance.now());
    this.minInterval = opts.minIntervalMs ?? 100;
    this.epochs = opts.epochs;
    this.steps = opts.stepsPerEpoch;
    this.firstEpoch = opts.firstEpoch ?? 1;
    this.runT0 = this.now();
  }

  /** Starts epoch `index` (0-based within this run; default: the one after the last). */
  epochStart(index?: number): void {
    this.epoch = index ?? this.nextEpoch;
    this.nextEpoch = this.epoch + 1;
    this.epochT0 = this.now();
    this.epochImages = 0;
    this.lastStep = 0;
    this.lastInfo = null;
    this.lastDraw = -Infinity;
  }

  step(info: StepInfo): void {
    this.epochImages += info.images;
    this.runImages += info.images;
    this.runStepsDone++;
    this.lastStep = info.step;
    this.lastInfo = info;
    if (this.mode !== 'bar') return;
    const t = this.now();
    // Throttled so that a fast loop spends its time training, not repainting; the last step always shows.
    if (t - this.lastDraw < this.minInterval && info.step < this.steps) return;
    this.lastDraw = t;
    this.drawBar(t);
  }

  epochEnd(summary: EpochSummary): void {
    const t = this.now();
    const seconds = (t - this.epochT0) / 1000;
    const rate = seconds > 0 ? this.epochImages / seconds : 0;
    const epochNo = this.firstEpoch + this.epoch;
    const lastEpochNo = this.firstEpoch + this.epochs - 1;
    if (this.mode === 'json') {
      this.writeJson({
        event: 'epoch', epoch: epochNo, epochs: lastEpochNo, steps: this.lastStep, images: this.epochImages,
        loss: summary.loss, bce: summary.bce, kl: summary.kl,
        testLoss: summary.testLoss, testBce: summary.testBce, testKl: summary.testKl,
        seconds: round(seconds, 3), imagesPerSec: round(rate, 1), ...summary.extra,
      });
      return;
    }
    const parts = [`epoch ${String(epochNo).padStart(String(lastEpochNo).length)}/${lastEpochNo}`, `loss ${fmtLoss(summary.loss)}`];
    if (summary.bce !== undefined) parts.push(`bce ${fmtLoss(summary.bce)}`);
    if (summary.kl !== undefined) parts.push(`kl ${fmtLoss(summary.kl)}`);
    if (summary.testLoss !== undefined) parts.push(`test ${fmtLoss(summary.testLoss)}`);
    if (summary.testBce !== undefined) parts.push(`test bce ${fmtLoss(summary.testBce)}`);
    if (summary.testKl !== undefined) parts.push(`test kl ${fmtLoss(summary.testKl)}`);
    for (const [k, v] of Object.entries(summary.extra ?? {})) parts.push(`${k} ${typeof v === 'number' ? fmtLoss(v) : v}`);
    parts.push(`${seconds.toFixed(1)} s`, `${fmtRate(rate)} img/s`);
    const line = parts.join('  ');
    if (this.mode === 'bar') {
      this.stream.write(`\r${line}${CLEAR_EOL}\n`);
      this.barShown = false;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** A message line (checkpoint saved, ...): above the bar on a terminal, an event in JSON mode. */
  log(message: string): void {
    if (this.mode === 'json') {
      this.writeJson({ event: 'log', message });
      return;
    }
    if (this.mode === 'bar' && this.barShown) {
      this.stream.write(`\r${CLEAR_EOL}${message}\n`);
      this.barShown = false;
      this.drawBar(this.now());
      return;
    }
    this.stream.write(`${message}\n`);
  }

  /** Ends the output: the bar's line is closed with a newline; JSON mode gets a final 'done' event. */
  finish(extra: Record<string, unknown> = {}): void {
    if (this.finished) return;
    this.finished = true;
    const seconds = (this.now() - this.runT0) / 1000;
    if (this.mode === 'json') {
      this.writeJson({ event: 'done', seconds: round(seconds, 3), images: this.runImages, ...extra });
      return;
    }
    if (this.mode === 'bar' && this.barShown) {
      this.stream.write('\n');
      this.barShown = false;
    }
  }

  /** Writes one JSON object as a line (JSON mode), for events the trainer defines. */
  event(obj: Record<string, unknown>): void {
    if (this.mode === 'json') this.writeJson(obj);
  }

  private writeJson(obj: Record<string, unknown>): void {
    // undefined fields are dropped by JSON.stringify; NaN/Infinity would become null, so keep them readable.
    this.stream.write(`${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}\n`);
  }

  /** The bar's text (without control characters), fitted to `columns`. */
  barText(t = this.now()): string {
    const info = this.lastInfo;
    const epochNo = this.firstEpoch + this.epoch;
    const lastEpochNo = this.firstEpoch + this.epochs - 1;
    const step = this.lastStep;
    const elapsed = (t - this.epochT0) / 1000;
    const rate = elapsed > 0 ? this.epochImages / elapsed : 0;
    const runElapsed = (t - this.runT0) / 1000;
    const stepsLeft = Math.max(0, this.epochs * this.steps - (this.epoch * this.steps + step));
    const eta = this.runStepsDone > 0 ? (runElapsed / this.runStepsDone) * stepsLeft : NaN;
    const head = `epoch ${String(epochNo).padStart(String(lastEpochNo).length)}/${lastEpochNo}`;
    const count = `${String(step).padStart(String(this.steps).length)}/${this.steps}`;
    const stats = [
      info ? `loss ${fmtLoss(info.loss)}` : '',
      info?.bce !== undefined ? `bce ${fmtLoss(info.bce)}` : '',
      info?.kl !== undefined ? `kl ${fmtLoss(info.kl)}` : '',
      `${fmtRate(rate)} img/s`,
      `ETA ${formatDuration(eta)}`,
    ].filter((s) => s !== '').join('  ');
    const columns = this.stream.columns && this.stream.columns > 20 ? this.stream.columns - 1 : 79;
    const fixed = head.length + count.length + stats.length + 6;
    const barWidth = Math.min(30, columns - fixed);
    if (barWidth >= 5) {
      const filled = Math.round((step / this.steps) * barWidth);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
      return `${head} ${bar} ${count}  ${stats}`;
    }
    return `${head} ${count}  ${stats}`.slice(0, columns);
  }

  private drawBar(t: number): void {
    this.stream.write(`\r${this.barText(t)}${CLEAR_EOL}`);
    this.barShown = true;
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** The mode for the CLI's flags: --json wins, otherwise the stream decides. */
export function progressMode(opts: { json?: boolean; stream: ProgressStream; plain?: boolean }): Resolved {
  if (opts.json) return 'json';
  if (opts.plain) return 'plain';
  return opts.stream.isTTY ? 'bar' : 'plain';
}
