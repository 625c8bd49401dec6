"""Hash of the tutorial DCGAN's compiled training dispatch (configs/mnist.py, 1 step)."""
import hashlib, runpy, sys
import jax, jax.numpy as jnp
from jaxgan import gan as gan_lib, parallel, update
root = sys.argv[1]
config = runpy.run_path(f'{root}/configs/mnist.py')['get_config']()
gan = gan_lib.make_gan(config)
state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
data = {'image': jnp.zeros((60000, 28, 28, 1), jnp.uint8), 'label': jnp.zeros((60000,), jnp.int32)}
chunk = update.make_train_chunk(gan, config.train.batch_size, parallel.make_mesh())
keys = gan_lib.rngs(0)
for n in (1, 50):
  import re
  text = re.sub(r", metadata=\{[^}]*\}", "", chunk.lower(state, data, keys["data"], keys["step"], n).compile().as_text())
  print(n, hashlib.sha256(text.encode()).hexdigest()[:16], len(text))
import os
if os.environ.get('DUMP'):
  t = re.sub(r", metadata=\{[^}]*\}", "", chunk.lower(state, data, keys["data"], keys["step"], 1).compile().as_text())
  open(os.environ['DUMP'], 'w').write(t)
