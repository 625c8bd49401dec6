#!/bin/bash
# The tutorial's 28x28 step before (41453bc, /tmp/old) and after this change, alternately;
# then resident against streamed batches, at 28x28x1 and 32x32x3, in one process each.
cd /work/main
. .venv/bin/activate
for i in 1 2; do
  echo "== before (41453bc) run $i"
  (cd /tmp/old && PYTHONPATH=/tmp/old python benchmarks/throughput.py --steps 40 --notorch)
  echo "== after run $i"
  python benchmarks/throughput.py --steps 40 --notorch
done
echo "== feeds, configs/mnist.py"
python benchmarks/throughput.py --steps 40 --notorch --variants 'data.feed=resident;data.feed=stream;data.feed=resident;data.feed=stream'
echo "== feeds, configs/cifar10.py at 32x32x3"
python benchmarks/throughput.py --config configs/cifar10.py --config.model.image_shape='(32, 32, 3)' --steps 30 --notorch --variants 'data.feed=resident;data.feed=stream;data.feed=resident;data.feed=stream'
