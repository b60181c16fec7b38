// vaegrad/vae: the seed project's models, loss, data handling, training loop, evaluation,
// checkpoints, t-SNE and drawing (browser-safe; file and PNG output live in vaegrad/node).

// The core barrel installs tensor methods and registers the backends: every entry point loads it.
import '../index.js';

export { VAE, ConvVAE, MlpVAE, createModel } from './models.js';
export type { VaeOutput, ForwardOptions, ConvVaeOptions, ModelKind, ModelSize, Posterior } from './models.js';
export { vaeLoss } from './loss.js';
export type { VaeLoss } from './loss.js';
export { ImageDataset, subset, stratifiedSubset, stratifiedIndices, spreadIndices, permutation, batchOf, IMAGE_SIZE } from './data.js';
export type { Batch } from './data.js';
export { Trainer, evaluate, DEFAULT_CONFIG } from './train.js';
export type { TrainConfig, StepStats, Averages, Progress, EvalResult, EpochResult } from './train.js';
export { checkpointBytes, modelBytes, readCheckpoint, trainerFromCheckpoint, vaeFromStateDict, vaeFromSafetensors, CHECKPOINT_FORMAT } from './checkpoint.js';
export type { CheckpointMeta, VaeFromStateDictOptions } from './checkpoint.js';
export { tsne } from './tsne.js';
export { drawImageGrid, drawScatter, drawLossCurve, imageGridSize, imageGridCell, TAB10, DIGIT_LABELS } from './draw.js';
export type { Canvas2D, ImageGridOptions, ScatterOptions, LossSeries, LossCurveOptions, PlotLayout, LegendItem } from './draw.js';
