import sys, gzip, numpy as np, jax
from jaxgan import sampling
run = sampling.load_run(sys.argv[1], 'latest')
lab = np.frombuffer(gzip.open(sys.argv[2] + '/t10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
rng = np.random.default_rng(int(sys.argv[4]))
labels = rng.permutation(lab)[:5000].astype(np.int32)
z = sampling.latents(run, 5000, seed=int(sys.argv[4]))
imgs = np.concatenate([np.asarray(sampling.generate_from(run, z[i:i+500], labels[i:i+500])) for i in range(0, 5000, 500)])
u8 = np.clip(np.round((imgs + 1) * 127.5), 0, 255).astype(np.uint8)
np.savez(sys.argv[3], images=u8)
