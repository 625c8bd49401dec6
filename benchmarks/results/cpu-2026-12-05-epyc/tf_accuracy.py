# TensorFlow's float32 convolution (G's first layer's shape, batch 64) against float64, and
# PyTorch's float32 against the same: whether TF's faster kernel computes in float32.
import numpy as np, tensorflow as tf, torch
rs=np.random.RandomState(0)
x=rs.randn(64,7,7,256).astype('f4'); k=(rs.randn(5,5,256,128)*0.05).astype('f4')
y_tf=tf.nn.conv2d(tf.constant(x),tf.constant(k),1,'SAME').numpy()
xt=torch.tensor(x,dtype=torch.float64).permute(0,3,1,2); kt=torch.tensor(k,dtype=torch.float64).permute(3,2,0,1)
y64=torch.nn.functional.conv2d(xt,kt,padding=2).permute(0,2,3,1).numpy()
y32=torch.nn.functional.conv2d(xt.float(),kt.float(),padding=2).permute(0,2,3,1).numpy()
print('tf rel err', np.abs(y_tf-y64).max()/np.abs(y64).max(), 'torch f32', np.abs(y32-y64).max()/np.abs(y64).max())
