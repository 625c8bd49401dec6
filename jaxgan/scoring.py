"""Scores a trained run's checkpoint, or a file of samples, against its data set."""
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan.quality import evaluator as evaluator_lib


def evaluate_workdir(workdir, which='best', batch_norm=None):
  """Scores a trained run: its config, its best/latest/numbered checkpoint."""
  run = sampling.load_run(workdir, which, batch_norm)
  evaluator = evaluator_lib.Evaluator(run.config, input_pipeline.load_dataset(run.config.data))
  pixels, labels = sampling.generate(run.draw, run.gan, evaluator.num_samples,
                                     gan_lib.rngs(run.config.seed)['eval'])
  return {'workdir': str(workdir), 'checkpoint': which, 'step': int(run.state.step),
          'batch_norm': run.batch_norm,
          **evaluator.score(pixels, labels)}


def evaluate_samples(samples, path, config):
  """Scores `samples` (sample_files.read of `path`) against the config's data set."""
  dataset = input_pipeline.load_dataset(config.data)
  pixels = evaluator_lib.to_pixels(samples, path, dataset.image_shape)
  evaluator = evaluator_lib.Evaluator(config, dataset)
  return {'samples': str(path), **evaluator.score(pixels)}
