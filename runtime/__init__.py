"""adc's training runtime, on top of generated modules.

- `optimizers`: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW (one scalar
  update rule each, in fused Numba loops) and full-batch L-BFGS (SciPy)
- `schedules`: learning-rate schedules (constant, step, exponential, 1/t, cosine, warm-up)
- `initializers`: zeros, small Gaussian, Xavier, He; defaults by rank and activation
- `data`: .npz/.csv and built-in datasets matched to a model's arguments, splits,
  standardisation, seeded mini-batches
- `trainer`: the Trainer (epochs, validation, early stopping, weight decay, metrics,
  checkpoints, resume) and the `logits` convention for accuracy
- `device`: the same training loop on a CUDA GPU (`adc train --target cuda`): device
  arrays, mini-batches gathered on the device, the optimisers' CUDA kernels
- `checkpoint`, `plotting`: atomic checkpoints and history files (stale temporaries of a
  killed write removed), the learning-curve PNG
- `resume`: every field of a checkpoint checked against the run before it is loaded
- `errors`: `RunError` and its subclasses, which `adc train` reports without a traceback
- `session`: one `adc train` run end to end
- `gradcheck`: the compiled module against the eager NumPy run: values, and gradients,
  JVPs and HVPs against central finite differences of the eager run (`adc check`)

The submodules are imported on demand (`from adc.runtime import trainer`), so
`import adc.runtime` stays cheap.
"""
