import time, numpy as np, tensorflow as tf
for (n,h,ci,co) in [(256,7,256,128),(64,7,256,128)]:
  x=tf.constant(np.random.randn(n,h,h,ci).astype('float32')); k=tf.Variable(np.random.randn(5,5,ci,co).astype('float32')*0.05)
  f=tf.function(lambda x: tf.nn.conv2d(x,k,1,'SAME'))
  @tf.function
  def g(x):
    with tf.GradientTape() as t:
      t.watch(x); y=tf.reduce_sum(tf.nn.conv2d(x,k,1,'SAME')**2)
    return t.gradient(y,[x,k])
  for name,fn in [('fwd',f),('grad',g)]:
    fn(x); t0=time.perf_counter()
    for _ in range(5): r=fn(x); _=[v.numpy() for v in tf.nest.flatten(r)]
    print(n,h,ci,co,name,'%.1f ms'%(1e3*(time.perf_counter()-t0)/5),flush=True)
