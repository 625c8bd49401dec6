import time, jax, jax.numpy as jnp, numpy as np
def conv(x,k): return jax.lax.conv_general_dilated(x,k,(1,1),'SAME',dimension_numbers=('NHWC','HWIO','NHWC'))
def im2col(x,k):
  kh,kw,ci,co=k.shape; n,h,w,_=x.shape
  xp=jnp.pad(x,((0,0),(kh//2,kh//2),(kw//2,kw//2),(0,0)))
  cols=jnp.stack([xp[:,i:i+h,j:j+w,:] for i in range(kh) for j in range(kw)],3) # n,h,w,T,ci
  return jnp.einsum('nhwtc,tco->nhwo',cols,k.reshape(kh*kw,ci,co))
def im2col_dot(x,k):
  kh,kw,ci,co=k.shape; n,h,w,_=x.shape
  xp=jnp.pad(x,((0,0),(kh//2,kh//2),(kw//2,kw//2),(0,0)))
  cols=jnp.concatenate([xp[:,i:i+h,j:j+w,:] for i in range(kh) for j in range(kw)],3)
  return (cols.reshape(n*h*w,-1)@k.reshape(-1,co)).reshape(n,h,w,co)
def bench(f,*a,n=5):
  f(*a)[0].block_until_ready() if isinstance(f(*a),tuple) else f(*a).block_until_ready()
  t=time.perf_counter()
  for _ in range(n):
    r=f(*a); jax.tree_util.tree_map(lambda v:v.block_until_ready(),r)
  return (time.perf_counter()-t)/n
for (n,h,ci,co,ks) in [(256,7,256,128,5),(256,14,64,128,5),(64,7,256,128,5),(64,7,128,64,5)]:
  x=jax.random.normal(jax.random.key(0),(n,h,h,ci)); k=jax.random.normal(jax.random.key(1),(ks,ks,ci,co))*0.05
  for name,f in [('xla',conv),('im2col_einsum',im2col),('im2col_dot',im2col_dot)]:
    fw=jax.jit(f)
    gr=jax.jit(jax.grad(lambda x,k: jnp.sum(f(x,k)**2),argnums=(0,1)))
    print(n,h,ci,co,name,'fwd %.1f ms'%(1e3*bench(fw,x,k)),'grad %.1f ms'%(1e3*bench(gr,x,k)), 'gflop fwd %.2f'%(n*h*h*ci*co*ks*ks*2/1e9), flush=True)
  print(float(jnp.max(jnp.abs(conv(x,k)-im2col_dot(x,k)))))
