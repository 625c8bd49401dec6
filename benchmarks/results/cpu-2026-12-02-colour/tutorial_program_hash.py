"""Hash of the tutorial DCGAN's compiled training dispatch (configs/mnist.py), locations stripped.

  cd TREE && PYTHONPATH=TREE python tutorial_program_hash.py TREE

XLA's text names source files and lines (metadata, stack-frame tables), which
differ between two checkouts of the same program; the hash is of the rest.
"""
import hashlib
import re
import runpy
import sys

import jax
import jax.numpy as jnp

from jaxgan import gan as gan_lib, parallel, update


def program_body(text):
  text = re.sub(r', metadata=\{[^}]*\}', '', text)
  text = text[text.index('HloModule'):] if 'HloModule' in text else text
  text = re.sub(r'stack_frame_id=\d+', '', text)
  return '\n'.join(l for l in text.splitlines() if not re.match(r'^\s*\d+ ("|\{)', l))


root = sys.argv[1]
config = runpy.run_path(f'{root}/configs/mnist.py')['get_config']()
gan = gan_lib.make_gan(config)
state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
data = {'image': jnp.zeros((60000, 28, 28, 1), jnp.uint8),
        'label': jnp.zeros((60000,), jnp.int32)}
chunk = update.make_train_chunk(gan, config.train.batch_size, parallel.make_mesh())
keys = gan_lib.rngs(0)
for n in (1, 50):
  text = program_body(chunk.lower(state, data, keys['data'], keys['step'], n).compile().as_text())
  print(f'{n} steps: {hashlib.sha256(text.encode()).hexdigest()[:16]} ({len(text)} characters)')
