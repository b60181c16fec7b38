// The kernel module's exports, nothing else. Kernels work on raw pointers into linear memory;
// TypeScript (src/backend/wasm/) owns every allocation.
export { sgemm, sgemmPackA, sgemmPackB, sgemmPacked, gemmBlocking, addRowBias } from './gemm';
export { im2col, col2im, gatherChannels, scatterChannels, addChannelBias, padPlanes, convDirect } from './conv';
export { gemmNT } from './gemmnt';
export { convDirectBnReluPool2x2 } from './convpool';
export { winogradFilter, winogradConv, winogradConvBnReluPool, winogradGradSums, winogradFilterGrad } from './winograd';
export { winogradS2Filter, winogradS2, phaseSplit, winogradS2ConvFilter, winogradS2Conv, winogradS2GradSums, winogradS2FilterGrad } from './winogradStride2';
export { maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward } from './pool';
export { adamUpdate } from './optim';
export { heapBase } from './memory';
export { gather4, unaryF32, binaryF32, bceWithLogits, bceWithLogitsGrad, nonFinite } from './elementwise';
export { bnReluMaxPool2x2, bnReluMaxPool2x2Backward, bnPoolBackwardScratch } from './bnpool';
export { bnStats, bnForward, bnBackward, sumRows, sumCols, f64ToF32 } from './norm';
