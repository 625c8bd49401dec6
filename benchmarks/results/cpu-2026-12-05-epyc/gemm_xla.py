import time, jax, jax.numpy as jnp
def bench(f,*a,n=5):
  jax.block_until_ready(f(*a)); t=time.perf_counter()
  for _ in range(n): jax.block_until_ready(f(*a))
  return (time.perf_counter()-t)/n
for m,k,nn in [(12544,6400,128),(12544,256,128),(6400,12544,128)]:
  a=jax.random.normal(jax.random.key(0),(m,k)); b=jax.random.normal(jax.random.key(1),(k,nn))
  t=bench(jax.jit(lambda a,b:a@b),a,b); print(m,k,nn,'%.1f ms %.0f GFLOP/s'%(t*1e3,2*m*k*nn/t/1e9),flush=True)
