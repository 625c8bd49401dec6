import gzip, sys, numpy as np, pathlib
k = int(sys.argv[1]); out = pathlib.Path(sys.argv[2]); out.mkdir(exist_ok=True)
src = pathlib.Path('jaxgan/data/mnist')
raw = gzip.open(src / 't10k-images-idx3-ubyte.gz').read()
x = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
y = np.frombuffer(gzip.open(src / 't10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
rng = np.random.default_rng(0)
c = x[rng.choice(len(x), 1)]
for _ in range(k - 1):   # k-means++
  d = ((x[:, None] - c[None]) ** 2).sum(-1).min(1)
  c = np.vstack([c, x[rng.choice(len(x), p=d / d.sum())]])
for it in range(50):
  d = (x ** 2).sum(1)[:, None] - 2 * x @ c.T + (c ** 2).sum(1)[None]
  a = d.argmin(1)
  c = np.stack([x[a == j].mean(0) for j in range(k)])
sizes = np.bincount(a, minlength=k)
purity = sum(np.bincount(y[a == j]).max() for j in range(k)) / len(y)
print('sizes', sizes.tolist(), 'purity', round(purity, 3))
(out / 't10k-images-idx3-ubyte.gz').write_bytes(gzip.compress(raw))
lab = gzip.open(src / 't10k-labels-idx1-ubyte.gz').read()
(out / 't10k-labels-idx1-ubyte.gz').write_bytes(gzip.compress(lab[:8] + a.astype(np.uint8).tobytes()))
