"""Batches streamed from host memory, for data sets too large to stay on the device.

Each dispatch gets exactly the batches the resident path would draw on the
device (input_pipeline.dispatch_indices), gathered from the uint8 array in
host memory and put on the devices while the previous dispatch trains, so a
streamed run computes what a resident one computes.
"""
import concurrent.futures

import jax
import numpy as np

from jaxgan import input_pipeline


class Stream:
  """One GAN's real batches, a dispatch at a time, prepared one dispatch ahead."""

  def __init__(self, dataset, data_rng, batch_size, n_critic, sharding):
    self._images, self._labels = dataset.images, dataset.labels
    self._rng = jax.device_get(data_rng)
    self._batch_size, self._n_critic = batch_size, n_critic
    self._sharding = sharding
    self._indices = jax.jit(input_pipeline.dispatch_indices, static_argnums=(2, 3, 4))
    self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='jaxgan-stream')
    self._ahead = None   # ((step, num_steps), future of its batches)

  def _gather(self, step, num_steps):
    """{'image': uint8 (num_steps * n_critic * B, H, W, C), 'label'} on the devices."""
    k = self._n_critic
    idx = np.asarray(self._indices(self._rng, step * k, num_steps * k, len(self._images),
                                   self._batch_size)).reshape(-1)
    # Each process has every image, so each fills its own devices' parts: no collective
    # runs on this thread beside the training step's on the main one.
    put = lambda x: jax.make_array_from_callback(x.shape, self._sharding, lambda i: x[i])
    return {'image': put(self._images[idx]), 'label': put(self._labels[idx])}

  def batches(self, step, num_steps, next_steps=0):
    """The batches of steps step .. step + num_steps - 1; starts on the next `next_steps`."""
    ahead, self._ahead = self._ahead, None
    if ahead is not None and ahead[0] == (step, num_steps):
      data = ahead[1].result()
    else:
      if ahead is not None:
        ahead[1].cancel()
      data = self._gather(step, num_steps)
    if next_steps:
      self._ahead = ((step + num_steps, next_steps),
                     self._pool.submit(self._gather, step + num_steps, next_steps))
    return data

  def close(self):
    self._pool.shutdown(wait=True, cancel_futures=True)

