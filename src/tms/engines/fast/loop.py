"""The step loop of one part, compiled by TorchScript where it can be.

A block of steps (convert the words, gradients, AdamW, the logged losses, the snapshots) runs as one call
without Python and without Python's global lock. Called op by op from Python, two worker threads queued for
that lock at every op (a wake-up costs tens of microseconds here), so parts on two cores ran little faster than
one; compiled, they run side by side. It compiles in about 20 ms; where TorchScript is missing or fails, the
same module runs uncompiled, op for op.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Callable, List, Optional, Tuple

import torch
from torch import Tensor

from .grads import Model
from .optim import FusedOptimizer
from .sampling import convert_signed, convert_words

log = logging.getLogger(__name__)

Result = Tuple[List[Tensor], List[Tensor]]
"""What a block returns: the losses of its logged steps and the parameters at its snapshot steps, in order."""


class PartTrainer(torch.nn.Module):
    """The step loop of one part for a block of steps: convert each step's words into ``X``, gradients,
    AdamW, the loss at the steps that log one (:func:`logs_loss`) and a copy of the parameters after the steps
    it is asked to snapshot (a copy changes no number: training goes on from the same tensors).

    Compiled with TorchScript where it can be (:func:`compile_trainer`): the compiled loop runs a whole block
    without Python, and without holding Python's global lock, so worker threads training other parts (and
    the helper thread drawing the next block) run alongside it instead of queueing for the lock at every op.
    Uncompiled it does the same, op for op.
    """

    def __init__(self, model: Model, opt: FusedOptimizer, T: Tensor, signed: bool = False):
        super().__init__()
        self.model, self.opt, self.T = model, opt, T
        self.signed = signed  # words -> X' by convert_signed (SignedSampler), else convert_words
        inst, n, B = model.inst, model.n, model.B
        # |X'| of signed words, which the conversion computes on the way: the untied model reads it instead of
        # taking |X'| itself
        shares = signed and hasattr(model, "Xabs")
        self.Xabs = model.Xabs if shares else torch.empty(inst, n, B if signed else 1, device=model.theta.device)
        if shares:
            model.abs_ready = True
        self.X = torch.zeros(inst, n + 1, B, device=model.theta.device)
        self.X[:, n].fill_(1.0)
        self.Xp = self.X[:, :n]
        self.sparse_encoder = model.sparse_encoder
        # whether the model reads the hits' values (each active element once) or only where they are
        self.hit_weights = bool(getattr(model, "hit_weights", True))
        # Which hit wrote an element last (the sparse encoder needs each active element once).
        self.hit_ids = torch.empty(self.X.numel() if model.sparse_encoder and self.hit_weights else 1,
                                   dtype=torch.long, device=model.theta.device)

    def forward(self, words: Tensor, first_step: int, log_every: int, last_step: int,
                snapshots: List[int]) -> Result:
        """Train ``len(words)`` steps numbered from ``first_step``; ``snapshots`` lists the steps of this block
        after which to copy the parameters."""
        losses: List[Tensor] = []
        snaps: List[Tensor] = []
        for i in range(words.size(0)):
            if self.signed:
                convert_signed(words[i], self.T, self.Xp, self.Xabs)
            else:
                convert_words(words[i], self.T, self.Xp)
            self._step(first_step + i, log_every, last_step, losses, snapshots, snaps)
        return losses, snaps

    @torch.jit.export
    def forward_sparse(self, index: Tensor, value: Tensor, offsets: List[int], first_step: int, log_every: int,
                       last_step: int, snapshots: List[int]) -> Result:
        """The same for a block of :class:`~.sampling.SparseSampler`: ``X'`` is zero but at the step's hits."""
        flat = self.X.view(-1)
        losses: List[Tensor] = []
        snaps: List[Tensor] = []
        for i in range(len(offsets) - 1):
            hits = index[offsets[i]:offsets[i + 1]]
            values = value[offsets[i]:offsets[i + 1]]
            positions: List[Optional[Tensor]] = [hits]
            flat.index_put_(positions, values)
            step = first_step + i
            want = logs_loss(step, log_every, last_step)
            if self.sparse_encoder:
                weights = values
                if self.hit_weights:
                    # an element hit twice holds its last hit's value (index_put_ writes in order): the others
                    # weigh 0
                    ids = torch.arange(hits.numel(), device=hits.device)
                    self.hit_ids.index_put_(positions, ids)
                    weights = values * (self.hit_ids.index_select(0, hits) == ids)
                n1, B = self.model.n + 1, self.model.B
                row = torch.div(hits, B, rounding_mode="floor")
                inst = torch.div(row, n1, rounding_mode="floor")
                loss = self.model.compute_grads_sparse(self.X, inst * B + (hits - row * B),
                                                       inst * self.model.n + (row - inst * n1), weights, want)
            else:
                loss = self.model.compute_grads(self.X, want)
            self._finish(step, loss, losses, snapshots, snaps)
            flat.index_fill_(0, hits, 0.0)  # back to all zeros for the next step
        return losses, snaps

    def _step(self, step: int, log_every: int, last_step: int, losses: List[Tensor], snapshots: List[int],
              snaps: List[Tensor]) -> None:
        loss = self.model.compute_grads(self.X, logs_loss(step, log_every, last_step))
        self._finish(step, loss, losses, snapshots, snaps)

    def _finish(self, step: int, loss: Optional[Tensor], losses: List[Tensor], snapshots: List[int],
                snaps: List[Tensor]) -> None:
        """AdamW, then the loss and the snapshot of ``step`` where they are asked for."""
        self.opt.step()
        if loss is not None:
            losses.append(loss)
        if len(snapshots) > 0 and step in snapshots:
            snaps.append(self.model.theta.clone())


def logs_loss(step: int, log_every: int, last_step: int) -> bool:
    """Whether training step ``step`` (counted from 1) records its loss."""
    return step % log_every == 0 or step == last_step


#: TorchScript (deprecated in PyTorch 2.x but present) is used while it works; ``TMS_NO_SCRIPT=1`` turns it
#: off, and so does any failure to compile: the engine then runs the same modules as plain Python.
SCRIPT_ENV = "TMS_NO_SCRIPT"

_SCRIPT_LOCK = threading.Lock()
#: The first compiler failure of this process, if any; later parts do not try again.
_SCRIPT_FAILURE: list[str] = []


def compile_trainer(trainer: PartTrainer) -> Callable[..., Result]:
    """``trainer`` compiled by TorchScript, or ``trainer`` itself where it cannot be (see :data:`SCRIPT_ENV`).

    Compiling is serialised: TorchScript's compiler is not thread-safe (two worker threads compiling their
    first part at once fail with "Can't redefine method"), while running compiled code is.
    """
    if os.environ.get(SCRIPT_ENV, "") not in ("", "0"):
        return trainer
    with _SCRIPT_LOCK:
        if _SCRIPT_FAILURE:
            return trainer
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TorchScript's deprecation notice
                return torch.jit.script(trainer)
        except Exception as exc:  # noqa: BLE001 - any compiler failure falls back to the same code uncompiled
            _SCRIPT_FAILURE.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
            log.warning("TorchScript could not compile the step loop (%s); training uncompiled, about 1.2-2x "
                        "slower", _SCRIPT_FAILURE[0])
            return trainer
