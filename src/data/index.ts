// data (vg.data): datasets and the DataLoader, PyTorch's torch.utils.data.

export { Dataset, TensorDataset, collate } from './dataset.js';
export type { DatasetLike, Sample, Collated } from './dataset.js';
export { DataLoader } from './dataloader.js';
export type { DataLoaderOptions, DataLoaderState } from './dataloader.js';
