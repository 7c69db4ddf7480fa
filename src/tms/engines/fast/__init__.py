"""The fast engine: the eager reference's optimisation (PAPER.md §0) with a hand-written backward pass.

Same math as :mod:`tms.engines.eager` — per-instance loss = mean over batch and features of I_i (x_i - x'_i)^2, summed over
instances, a fresh batch every step, AdamW with decoupled weight decay — computed the way the tiny model
allows. On a CPU the eager step is dominated by random-number generation and by many small unfused passes
over ``[inst, batch, feat]`` tensors, not by arithmetic, so:

- **Sampling from raw bits** (:class:`FeatureSampler`): one 32-bit random word ``s`` per element (numpy's
  PCG64 on the CPU, about 3x cheaper per element than ``torch.rand``; torch's generator on other devices).
  The feature is active when ``s`` falls in the top fraction ``p`` of the int32 range, ``s >= T = 2^31 - p 2^32``,
  and then ``(s - T) / (p 2^32)`` is U[0, 1): one draw per element, as
  :func:`tms.data.sample_features_one_draw`. The engine keeps ``X' = relu(s - T)``, so ``x = a X'`` with
  ``a = 2^-32 / p``, and folds ``a`` into the small weight matrices instead of spending a pass on it.
  Parts whose densities are all small draw only the active elements instead (:class:`SparseSampler`).
- **Work for every core without multi-threaded small ops** (:mod:`.parallel`): on the CPU a chunk is
  split into cache-sized parts of instances (:func:`split_parts`), trained by worker threads, each op
  single-threaded; ``job.threads`` says how many. A chunk too small to split draws its batches on a helper
  thread instead, a block of steps ahead of the trainer (:class:`BatchStream`). Parts, blocks and random
  streams depend only on the shapes and the generator, and every op runs on one thread, so a seed gives
  bit-identical numbers however many threads ran it.
- **The step loop compiled by TorchScript** (:class:`PartTrainer`, :func:`compile_trainer`): a block of
  steps (convert the words, gradients, AdamW) runs as one call without Python and without Python's global
  lock. Called op by op from Python, two worker threads queued for that lock at every op (a wake-up costs
  tens of microseconds here), so parts on two cores ran little faster than one; compiled, they run side by
  side. It compiles in about 20 ms; where TorchScript is missing or fails, the same module runs uncompiled.
- **Feature-major layout** ``[inst, feat, batch]`` plus a row of ones, ``X = [X'; 1]``: each feature row is
  contiguous, per-(instance, feature) constants broadcast along the fast axis, and the bias rides through the
  matmuls (its gradient falls out of the same product).
- **Loss scale folded in**: with ``c = 2 I / (batch n)`` the gradient with respect to the pre-activation ``z``
  is ``c (z - x) [z > 0]``; the engine computes ``c z`` and ``c (z - x)`` directly (the constants live in the
  small matrices), so the backward through the ReLU is one ``threshold_backward`` pass.
- **Two forms of the same model**, chosen per shape (:func:`choose_form`):
  ``gram`` (small n): with ``M = W^T W`` [n, n], one batched matmul gives both ``c z`` and ``c (z - x)``, one
  more gives ``dL/dM`` and the bias gradient, and ``dL/dW = W (dL/dM + dL/dM^T)`` is a tiny matmul: two
  passes over the batch instead of five;
  ``hidden`` (larger n): ``h = W x`` first, five batched matmuls with inner size m or n like the eager model,
  since the n x n form would cost about n / m times more arithmetic.
- **One parameter tensor** (W and b side by side) updated by PyTorch's fused AdamW kernel: the same update
  as ``torch.optim.AdamW``, in one call.
- **Loss only when it is logged**: the training loss is needed every ``log_every`` steps, not every step.
- **Tiny batches**: where PyTorch's bmm would loop over instances one small matrix at a time, the gram form's
  forward product is n + 1 broadcast passes instead (:data:`BROADCAST_MAX_PRODUCT`).
- **Sparse encoder** (wide, very sparse parts, :func:`uses_sparse_encoder`): ``h = W x`` and ``(dL/dh) x^T`` summed
  over the active elements only, three dense matmuls per step instead of five.

Everything is plain PyTorch on whatever device the tensors live on (on CUDA: one part, no helper threads,
torch's generator); only the CPU bit source uses numpy. ``torch.compile`` was left out: its compile time
(tens of seconds here) is larger than a whole paper-length run of the small models, and its code for the
intro step ran at half the speed of the hand-written one.

Modules, by concern: :mod:`.sampling` (raw words, dense and sparse samplers, blocks of steps), :mod:`.optim`
(fused AdamW), :mod:`.grads` (the hand-written gradients, two forms), :mod:`.loop` (the compiled step loop),
:mod:`.parallel` (parts, worker threads, the engine's ``train_chunk``). It trains the tied families ``relu``,
``linear`` and ``hidden-relu`` (the hidden form only: its hidden layer is not linear) and the untied ``untied-abs``
(:class:`UntiedModel`) on the ``independent``, ``sets`` and ``signed`` distributions (:data:`tms.engines.ENGINES`;
feature sets through :class:`SetSampler`, signed values through :class:`SignedSampler` or the sparse sampler).
"""

from .grads import (
    BROADCAST_MAX_PRODUCT,
    GRAM_MAX_FEATURES,
    SPARSE_ENCODER_MAX_ACTIVE,
    SPARSE_ENCODER_MIN_FEATURES,
    GramModel,
    HiddenModel,
    Model,
    UntiedModel,
    build_model,
    choose_form,
    make_model,
    uses_sparse_encoder,
)
from .loop import SCRIPT_ENV, PartTrainer, compile_trainer, logs_loss
from .optim import FusedAdamW, FusedOptimizer
from .parallel import PART_ELEMENTS, SPLIT_MIN_ELEMENTS, split_parts, train_chunk
from .sampling import (
    BLOCK_ELEMENTS,
    PIPELINE_BLOCK_ELEMENTS,
    SPARSE_COST,
    SPARSE_MAX_DENSITY,
    BatchStream,
    FeatureSampler,
    RawBits,
    SetSampler,
    SignedSampler,
    SparseSampler,
    convert_signed,
    convert_words,
    sample_features,
    sparse_instances,
)

__all__ = [
    "BLOCK_ELEMENTS", "BROADCAST_MAX_PRODUCT", "GRAM_MAX_FEATURES", "PART_ELEMENTS", "PIPELINE_BLOCK_ELEMENTS",
    "SPARSE_ENCODER_MAX_ACTIVE", "SPARSE_ENCODER_MIN_FEATURES", "uses_sparse_encoder",
    "SCRIPT_ENV", "SPARSE_COST", "SPARSE_MAX_DENSITY", "SPLIT_MIN_ELEMENTS", "BatchStream", "FeatureSampler",
    "FusedAdamW", "FusedOptimizer", "GramModel", "HiddenModel", "Model", "PartTrainer", "RawBits", "SetSampler", "SignedSampler",
    "SparseSampler", "UntiedModel", "build_model", "choose_form", "convert_signed",
    "compile_trainer", "convert_words", "logs_loss", "make_model", "sample_features", "sparse_instances",
    "split_parts", "train_chunk",
]
