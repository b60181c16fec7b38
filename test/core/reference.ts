// Plain-JS reference implementations of the NN ops (NCHW, contiguous float64 arrays), written
// from the PyTorch definitions independently of the library's kernels.

export interface ConvArgs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export function conv2dRef(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], b: ArrayLike<number> | null, a: ConvArgs): { out: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [O, Cg, KH, KW] = ws as [number, number, number, number];
  const OH = Math.floor((H + 2 * a.padding[0] - a.dilation[0] * (KH - 1) - 1) / a.stride[0]) + 1;
  const OW = Math.floor((W + 2 * a.padding[1] - a.dilation[1] * (KW - 1) - 1) / a.stride[1]) + 1;
  const Og = O / a.groups;
  const out: number[] = [];
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = b ? b[o]! : 0;
          const grp = Math.floor(o / Og);
          for (let ci = 0; ci < Cg; ci++)
            for (let ky = 0; ky < KH; ky++)
              for (let kx = 0; kx < KW; kx++) {
                const iy = oy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
                const ix = ox * a.stride[1] - a.padding[1] + kx * a.dilation[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const c = grp * Cg + ci;
                s += x[((n * C + c) * H + iy) * W + ix]! * w[((o * Cg + ci) * KH + ky) * KW + kx]!;
              }
          out.push(s);
        }
  return { out, shape: [N, O, OH, OW] };
}

/** Transposed conv as the scatter of each input pixel through the kernel (PyTorch's definition). */
export function convTranspose2dRef(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], b: ArrayLike<number> | null, a: ConvArgs & { outputPadding: [number, number] }): { out: number[]; shape: number[] } {
  const [N, Cin, H, W] = xs as [number, number, number, number];
  const [, Cog, KH, KW] = ws as [number, number, number, number];
  const G = a.groups;
  const Cout = Cog * G;
  const Cig = Cin / G;
  const OH = (H - 1) * a.stride[0] - 2 * a.padding[0] + a.dilation[0] * (KH - 1) + a.outputPadding[0] + 1;
  const OW = (W - 1) * a.stride[1] - 2 * a.padding[1] + a.dilation[1] * (KW - 1) + a.outputPadding[1] + 1;
  const out = new Array<number>(N * Cout * OH * OW).fill(0);
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < Cin; ci++) {
      const grp = Math.floor(ci / Cig);
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++)
          for (let co = 0; co < Cog; co++)
            for (let ky = 0; ky < KH; ky++)
              for (let kx = 0; kx < KW; kx++) {
                const oy = iy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
                const ox = ix * a.stride[1] - a.padding[1] + kx * a.dilation[1];
                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                const c = grp * Cog + co;
                out[((n * Cout + c) * OH + oy) * OW + ox]! += x[((n * Cin + ci) * H + iy) * W + ix]! * w[((ci * Cog + co) * KH + ky) * KW + kx]!;
              }
    }
  if (b) for (let i = 0; i < out.length; i++) out[i]! += b[Math.floor(i / (OH * OW)) % Cout]!;
  return { out, shape: [N, Cout, OH, OW] };
}

export function pool2dRef(
  kind: 'max' | 'avg',
  x: ArrayLike<number>,
  xs: number[],
  k: [number, number],
  stride: [number, number],
  pad: [number, number],
  countIncludePad = true,
): { out: number[]; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const OH = Math.floor((H + 2 * pad[0] - k[0]) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * pad[1] - k[1]) / stride[1]) + 1;
  const out: number[] = [];
  for (let p = 0; p < N * C; p++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let best = -Infinity;
        let sum = 0;
        let cnt = 0;
        const y0 = oy * stride[0] - pad[0];
        const x0 = ox * stride[1] - pad[1];
        for (let ky = 0; ky < k[0]; ky++)
          for (let kx = 0; kx < k[1]; kx++) {
            const iy = y0 + ky;
            const ix = x0 + kx;
            const inPadded = iy < H + pad[0] && ix < W + pad[1];
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
              if (inPadded && countIncludePad) cnt++;
              continue;
            }
            const v = x[(p * H + iy) * W + ix]!;
            if (v > best || Number.isNaN(v)) best = Number.isNaN(best) ? best : v;
            sum += v;
            cnt++;
          }
        out.push(kind === 'max' ? best : sum / cnt);
      }
  return { out, shape: [N, C, OH, OW] };
}
