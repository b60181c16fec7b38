// Tests of the training progress output in its three modes, against a fake clock and a captured stream.
import { describe, expect, it } from 'vitest';

import { formatDuration, progressMode, TrainingProgress, type ProgressStream } from '../../src/cli/progress.js';

function capture(isTTY: boolean, columns = 100): ProgressStream & { out: string; writes: number } {
  const s = {
    out: '',
    writes: 0,
    isTTY,
    columns,
    write(chunk: string) {
      s.out += chunk;
      s.writes++;
      return true;
    },
  };
  return s;
}

function run(p: TrainingProgress, clock: { t: number }, epochs: number, steps: number, msPerStep: number): void {
  for (let e = 0; e < epochs; e++) {
    p.epochStart();
    for (let s = 1; s <= steps; s++) {
      clock.t += msPerStep;
      p.step({ step: s, images: 128, loss: 150 - e, bce: 120, kl: 30 - e });
    }
    p.epochEnd({ loss: 150 - e, bce: 120, kl: 30 - e, testLoss: 149 - e });
  }
  p.finish();
}

describe('TrainingProgress', () => {
  it('plain mode (not a TTY): one line per epoch, no control characters', () => {
    const stream = capture(false);
    const clock = { t: 0 };
    const p = new TrainingProgress({ stream, epochs: 3, stepsPerEpoch: 10, now: () => clock.t });
    expect(p.mode).toBe('plain');
    run(p, clock, 3, 10, 100);
    const lines = stream.out.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1)).toHaveLength(3);
    expect(stream.out).not.toMatch(/[\r\x1b]/);
    expect(lines[0]).toBe('epoch 1/3  loss 150.00  bce 120.00  kl 30.00  test 149.00  1.0 s  1280 img/s');
    expect(lines[2]).toContain('epoch 3/3  loss 148.00');
  });

  it('bar mode (TTY): redraws with \\r, throttled to ~10 Hz, newline per epoch and at the end', () => {
    const stream = capture(true, 120);
    const clock = { t: 0 };
    const p = new TrainingProgress({ stream, epochs: 2, stepsPerEpoch: 100, now: () => clock.t });
    expect(p.mode).toBe('bar');
    p.epochStart();
    for (let s = 1; s <= 100; s++) {
      clock.t += 10; // 100 steps per second
      p.step({ step: s, images: 64, loss: 100, bce: 90, kl: 10 });
    }
    // 1 s of steps at 10 ms each: about 10 redraws, plus the forced one for the last step.
    const redraws = stream.out.split('\r').length - 1;
    expect(redraws).toBeGreaterThanOrEqual(9);
    expect(redraws).toBeLessThanOrEqual(12);
    const last = stream.out.slice(stream.out.lastIndexOf('\r') + 1);
    expect(last).toContain('epoch 1/2 [##############################] 100/100');
    expect(last).toContain('6400 img/s');
    expect(last).toContain('ETA 0:01'); // one more epoch at the same pace
    expect(last).not.toContain('\n');
    p.epochEnd({ loss: 100, bce: 90, kl: 10 });
    expect(stream.out.endsWith('\n')).toBe(true);
    p.epochStart();
    clock.t += 10;
    p.step({ step: 1, images: 64, loss: 99 });
    expect(stream.out.endsWith('\n')).toBe(false);
    p.log('checkpoint saved');
    expect(stream.out).toContain('\r\x1b[Kcheckpoint saved\n');
    p.finish();
    expect(stream.out.endsWith('\n')).toBe(true);
  });

  it('bar fits narrow terminals', () => {
    const stream = capture(true, 60);
    const clock = { t: 0 };
    const p = new TrainingProgress({ stream, epochs: 10, stepsPerEpoch: 70, now: () => clock.t });
    p.epochStart();
    clock.t += 50;
    p.step({ step: 1, images: 128, loss: 543.21, bce: 500.1, kl: 43.11 });
    expect(p.barText().length).toBeLessThanOrEqual(59);
  });

  it('JSON mode: one parseable object per line', () => {
    const stream = capture(true);
    const clock = { t: 0 };
    const p = new TrainingProgress({ stream, mode: 'json', epochs: 2, stepsPerEpoch: 5, now: () => clock.t });
    run(p, clock, 2, 5, 200);
    const events = stream.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.event)).toEqual(['epoch', 'epoch', 'done']);
    expect(events[0]).toMatchObject({ epoch: 1, epochs: 2, steps: 5, images: 640, loss: 150, bce: 120, kl: 30, testLoss: 149, seconds: 1, imagesPerSec: 640 });
    expect(events[2]).toMatchObject({ seconds: 2, images: 1280 });
    expect(stream.out).not.toMatch(/[\r\x1b]/);
  });

  it('firstEpoch numbers resumed runs', () => {
    const stream = capture(false);
    const p = new TrainingProgress({ stream, epochs: 2, stepsPerEpoch: 1, firstEpoch: 5, now: () => 0 });
    p.epochStart();
    p.epochEnd({ loss: 1 });
    expect(stream.out).toMatch(/^epoch 5\/6 /);
  });

  it('mode helpers', () => {
    expect(progressMode({ json: true, stream: capture(true) })).toBe('json');
    expect(progressMode({ stream: capture(true) })).toBe('bar');
    expect(progressMode({ stream: capture(false) })).toBe('plain');
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
  });
});
