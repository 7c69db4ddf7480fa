"""Hand-written gradients of the toy models: the tied ones (PAPER.md §0) in two forms of the same math, and the
untied model of §8 (:class:`UntiedModel`).

``compute_grads(X, want_loss)`` takes ``X = [X'; 1]`` ``[inst, n + 1, batch]`` (features ``x = a X'``, a row of
ones for the bias) and writes the gradient of the summed per-instance losses into ``gtheta``. Tests check both
forms against autograd on random inputs.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from ...errors import ConfigError

#: ``gram`` costs about 2 (n + 1) multiply-adds per sample and feature against about 5 m for ``hidden``, but
#: runs two matmuls instead of five and one elementwise pass instead of two. Measured on 2 CPU cores it wins
#: up to n = 5 and loses from n = 20 (§2, m = 5) on.
GRAM_MAX_FEATURES = 8

#: PyTorch's CPU bmm multiplies matrices whose product of sizes is below about 400 one at a time in a plain
#: loop (a microsecond per instance); up to this size the gram form computes its forward product as
#: broadcast passes instead (3-5x faster for 2 -> 1 models at batch 32). Only small batches get there.
BROADCAST_MAX_PRODUCT = 512

#: A part whose batches come as active elements (:class:`~.sampling.SparseSampler`) computes ``h = W x`` and
#: ``(dL/dh) x^T`` from them (:class:`HiddenModel`) when it has at least this many features and at most
#: :data:`SPARSE_ENCODER_MAX_ACTIVE` active features per sample on average. Measured single-threaded at the §4 size
#: (n = 400, m = 30, batch 1024, ms per step, dense form / sparse encoder): p = 0.001 1.58 / 1.32, 0.003
#: 1.57 / 1.37, 0.005 1.52 / 1.45, 0.01 1.53 / 1.63, 0.05 1.68 / 3.20; at n = 200, m = 20, p = 0.01 0.65 / 0.84.
#: The two matmuls it saves cost about 0.2 ms each at n = 400; the gathers and scatters over the active elements
#: (and finding the elements hit twice) cost about 0.1 ms plus about 25 ns per active element and hidden unit.
SPARSE_ENCODER_MIN_FEATURES = 300
SPARSE_ENCODER_MAX_ACTIVE = 2.5


class Model(torch.nn.Module):
    """Parameters and gradient of one part as single tensors ``theta``/``gtheta`` (one fused AdamW call);
    ``W``/``b`` and ``gW``/``gb`` are views into them. Layout ``flat`` puts all of W before all of b;
    ``stacked`` holds ``[W; b]`` per instance, ``[inst, m + 1, n]``, which is the shape the hidden form's
    weight gradient and bias gradient come out of one matmul in.

    ``compute_grads(X, want_loss)`` takes ``X = [X'; 1]`` ``[inst, n + 1, batch]`` with features ``x = a X'``
    and writes the gradient of the summed per-instance losses into ``gtheta``; with ``want_loss`` it returns
    the per-instance loss ``[inst]`` of that batch (before the update). A module (all state in plain tensor
    attributes) so that TorchScript can compile it; it runs the same as plain Python.
    """

    layout = "flat"

    def __init__(self, W: Tensor, b: Tensor, importance: Tensor, a: Tensor, batch_size: int, model: str):
        super().__init__()
        if model not in ("relu", "linear", "hidden-relu"):
            raise ConfigError(f"the fast engine's gradients cover the models relu, linear and hidden-relu, got "
                              f"{model!r}")
        inst, m, n = W.shape
        self.inst, self.m, self.n, self.B = inst, m, n, batch_size
        self.relu = model != "linear"  # the output ReLU
        self.hidden_relu = model == "hidden-relu"  # h = ReLU(W x): the hidden form only
        self.sparse_encoder = False
        if self.layout == "flat":
            nw = inst * m * n
            self.theta = torch.cat([W.reshape(-1), b.reshape(-1)]).float()
            self.gtheta = torch.zeros_like(self.theta)
            self.W, self.b = self.theta[:nw].view(inst, m, n), self.theta[nw:].view(inst, n)
            self.gW, self.gb = self.gtheta[:nw].view(inst, m, n), self.gtheta[nw:].view(inst, n)
        else:
            self.theta = torch.cat([W, b[:, None, :]], dim=1).float()
            self.gtheta = torch.zeros_like(self.theta)
            self.W, self.b = self.theta[:, :m], self.theta[:, m]
            self.gW, self.gb = self.gtheta[:, :m], self.gtheta[:, m]
        self._loss_constants(importance, a, batch_size)

    def _loss_constants(self, importance: Tensor, a: Tensor, batch_size: int) -> None:
        n = importance.shape[1]
        importance = importance.float()
        # c = 2 I / (B n): d(loss)/dz = c (z - x) [z > 0] for the loss of PAPER.md §0.
        self.c = 2.0 * importance / (batch_size * n)
        self.a = a.float()
        # The loss from E = c (x' - x): I (x' - x)^2 / (B n) = (E r)^2 with r = sqrt(B n / I) / 2 (squaring E r,
        # not E, cannot overflow for large importances); a feature with I = 0 has E = 0.
        safe = torch.where(importance > 0, importance, torch.ones_like(importance))
        r = torch.where(importance > 0, (batch_size * n / safe).sqrt() / 2, torch.zeros_like(importance))
        self.loss_r = r[:, :, None]

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        raise NotImplementedError

    def compute_grads_sparse(self, X: Tensor, hit_h: Tensor, hit_w: Tensor, value: Tensor,
                             want_loss: bool = False) -> Optional[Tensor]:
        """The same from ``X`` and its active elements (:class:`HiddenModel` with ``sparse_encoder`` uses them;
        every other form computes from ``X``). ``hit_h = i B + b`` and ``hit_w = i n + f`` locate active element
        (instance i, feature f, sample b), each once, with its value (``a`` = 1)."""
        return self.compute_grads(X, want_loss)

    def unpack(self, theta: Tensor) -> dict[str, Tensor]:
        """The family's parameters by name from a copy of ``theta`` (a training snapshot), in the layout of this
        module; ``unpack(self.theta)``: views of the live ones."""
        inst, m, n = self.inst, self.m, self.n
        if self.layout == "flat":
            nw = inst * m * n
            return {"W": theta[:nw].view(inst, m, n), "b": theta[nw:].view(inst, n)}
        return {"W": theta[:, :m], "b": theta[:, m]}

    def _loss(self, E: Tensor) -> Tensor:
        """Per-instance loss from ``E = c (x' - x)`` laid out ``[inst, feat, batch]``."""
        return (E * self.loss_r).square().sum(dim=(1, 2))


class GramModel(Model):
    """``z = M x + b`` with ``M = W^T W``: two batched matmuls per step; for small n (intro, §3)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inst, n, B, dev = self.inst, self.n, self.B, self.theta.device
        rows = 2 * n if self.relu else n
        # P: coefficients on X of c z (first n rows, ReLU only) and of c (z - x) (last n rows).
        self.P = torch.empty(inst, rows, n + 1, device=dev)
        self.ZD = torch.empty(inst, rows, B, device=dev)
        self.GZ = torch.empty(inst, n, B, device=dev) if self.relu else self.ZD
        self.Q = torch.empty(inst, n, n + 1, device=dev)
        self.M = torch.empty(inst, n, n, device=dev)
        self.S = torch.empty(inst, n, n, device=dev)
        self.CA = self.c[:, :, None] * self.a[:, None, :]  # c_k a_j
        self.DG = torch.diag_embed(self.c * self.a)  # c_k a_k x_k is subtracted for c (z - x)
        self.G = torch.empty(inst, n, n, device=dev)
        # Views made once: slicing costs about a microsecond per call, a sizeable part of a tiny step.
        self.Wt = self.W.transpose(1, 2)
        self.Pz, self.Pd = self.P[:, :n, :n], self.P[:, rows - n:, :n]
        self.Pb = self.P[:, :, n].view(inst, rows // n, n)
        self.Zc, self.D = self.ZD[:, :n], self.ZD[:, rows - n:]
        self.Qn, self.Qb = self.Q[:, :, :n], self.Q[:, :, n]
        self.Gt = self.G.transpose(1, 2)
        self.c_rep = self.c[:, None, :].expand(inst, rows // n, n)
        self.a_row = self.a[:, None, :]
        self.broadcast_zd = rows * (n + 1) * B <= BROADCAST_MAX_PRODUCT
        self.Pcols = [self.P[:, :, j, None] for j in range(n + 1)]

    def _zd_broadcast(self, X: Tensor) -> None:
        # ZD = P X as n + 1 broadcast passes (row j of X times column j of P), for shapes where bmm would
        # run its per-matrix loop (see BROADCAST_MAX_PRODUCT).
        n = self.n
        torch.mul(self.Pcols[0], X[:, 0:1], out=self.ZD)
        for j in range(1, n):
            self.ZD.addcmul_(self.Pcols[j], X[:, j:j + 1])
        self.ZD.add_(self.Pcols[n])

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        torch.bmm(self.Wt, self.W, out=self.M)
        # c z = (c_k M_kj a_j) X'_j + c_k b_k;  c (z - x) = the same minus c_k a_k X'_k.
        torch.mul(self.M, self.CA, out=self.Pz)
        torch.sub(self.Pz, self.DG, out=self.Pd)
        torch.mul(self.b[:, None, :], self.c_rep, out=self.Pb)
        if self.broadcast_zd:
            self._zd_broadcast(X)
        else:
            torch.bmm(self.P, X, out=self.ZD)
        if self.relu:
            torch.ops.aten.threshold_backward(self.D, self.Zc, 0.0, grad_input=self.GZ)
        # Q[k, j] = sum_b gz_k X_j:  dL/dM[k, j] = a_j Q[k, j],  dL/db = Q[:, :, n].
        torch.bmm(self.GZ, X.transpose(1, 2), out=self.Q)
        torch.mul(self.Qn, self.a_row, out=self.G)
        torch.add(self.G, self.Gt, out=self.S)
        torch.bmm(self.W, self.S, out=self.gW)  # M = W^T W  =>  dL/dW = W (G + G^T)
        self.gb.copy_(self.Qb)
        if not want_loss:
            return None
        if self.relu:  # c (relu(z) - x) = c (z - x) - c min(z, 0)
            return self._loss(self.D - self.Zc.clamp(max=0))
        return self._loss(self.D)


class HiddenModel(Model):
    """``h = W x``, ``z = W^T h + b``: five batched matmuls per step; for larger n (§2, §4).

    With ``sparse_encoder`` (wide models whose features are all rare, :data:`SPARSE_ENCODER_MIN_FEATURES`) the two
    products with the input, ``h = W x`` and the weight-gradient term ``(dL/dh) x^T``, are summed over the active
    elements only (p n per sample instead of n): three dense matmuls per step instead of five. The same math;
    the sums run in another order, so the last bits differ from the dense form's (tested against autograd)."""

    layout = "stacked"

    def __init__(self, *args, sparse_encoder: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        inst, n, m, B, dev = self.inst, self.n, self.m, self.B, self.theta.device
        # H = WA X = [h; 1]: WA = [[W diag(a), 0], [0, 1]] keeps the row of ones for the bias.
        self.WA = torch.zeros(inst, m + 1, n + 1, device=dev)
        self.WA[:, m, n] = 1.0
        self.H = torch.empty(inst, m + 1, B, device=dev)
        self.PZ = torch.empty(inst, n, m + 1, device=dev)  # c z = [c W^T, c b] H = PZ H
        self.Zc = torch.empty(inst, n, B, device=dev)
        self.D = torch.empty(inst, n, B, device=dev)
        self.gh = torch.empty(inst, m, B, device=dev)
        self.Q2 = torch.empty(inst, m, n + 1, device=dev)
        self.neg_ca = (-(self.c * self.a))[:, :, None].contiguous()
        self.a_row = self.a[:, None, :]
        self.c_row = self.c[:, None, :]
        # Views made once (see GramModel).
        self.WAw, self.PZt, self.Q2n = self.WA[:, :m, :n], self.PZ.transpose(1, 2), self.Q2[:, :, :n]
        self.Dt, self.gW_ = self.D.transpose(1, 2), self.gtheta[:, :m]
        self.sparse_encoder = sparse_encoder
        self.scatter = torch.empty(inst * B if sparse_encoder else 1, m, device=dev)  # h^T: a row per sample
        self.Hm = self.H[:, :m]
        if sparse_encoder:
            self.H[:, m].fill_(1.0)  # the bias row of H = [h; 1], written once

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        torch.mul(self.W, self.a_row, out=self.WAw)
        torch.bmm(self.WA, X, out=self.H)
        if self.hidden_relu:
            self.Hm.relu_()
        loss = self._decode(X, want_loss)
        torch.bmm(self.gh, X.transpose(1, 2), out=self.Q2)
        self.gW_.addcmul_(self.Q2n, self.a_row)
        return loss

    def compute_grads_sparse(self, X: Tensor, hit_h: Tensor, hit_w: Tensor, value: Tensor,
                             want_loss: bool = False) -> Optional[Tensor]:
        if not self.sparse_encoder:
            return self.compute_grads(X, want_loss)
        inst, n, m, B = self.inst, self.n, self.m, self.B
        # h^T[i B + b] = sum over the active (f, value) of sample b of W[i, :, f] value
        Wt = self.W.transpose(1, 2).contiguous().view(inst * n, m)
        ht = self.scatter[: inst * B]
        ht.zero_()
        ht.index_add_(0, hit_h, Wt.index_select(0, hit_w) * value[:, None])
        self.Hm.copy_(ht.view(inst, B, m).transpose(1, 2))
        if self.hidden_relu:
            self.Hm.relu_()
        loss = self._decode(X, want_loss)
        # (dL/dW)^T[i n + f] += sum over the active (b, value) of feature f of (dL/dh)^T[i B + b] value: the hits
        # come grouped by (instance, feature) row, so each row is one bag
        ght = self.gh.transpose(1, 2).contiguous().view(inst * B, m)
        counts = torch.bincount(hit_w, minlength=inst * n)
        offsets = torch.cumsum(counts, 0) - counts
        gwt = torch.nn.functional.embedding_bag(hit_h, ght, offsets, mode="sum", per_sample_weights=value)
        self.gW_.add_(gwt.view(inst, n, m).transpose(1, 2))
        return loss

    def _decode(self, X: Tensor, want_loss: bool) -> Optional[Tensor]:
        """From ``H = [h; 1]``: ``z``, ``c (z - x)`` through the ReLU, dL/dh and [dL/dW; dL/db] but for the
        input term; the loss when asked."""
        torch.mul(self.theta, self.c_row, out=self.PZt)
        torch.bmm(self.PZ, self.H, out=self.Zc)
        torch.addcmul(self.Zc, X[:, :self.n], self.neg_ca, out=self.D)  # c (z - x)
        loss: Optional[Tensor] = None
        if want_loss:
            loss = self._loss(self.D - self.Zc.clamp(max=0) if self.relu else self.D)
        if self.relu:
            torch.ops.aten.threshold_backward(self.D, self.Zc, 0.0, grad_input=self.D)
        # dL/dh = W gz;  [dL/dW; dL/db] = [h; 1] gz^T + [(dL/dh) x^T; 0]
        torch.bmm(self.W, self.D, out=self.gh)
        if self.hidden_relu:  # through h = ReLU(W x): h > 0 exactly where W x > 0
            torch.ops.aten.threshold_backward(self.gh, self.Hm, 0.0, grad_input=self.gh)
        torch.bmm(self.H, self.Dt, out=self.gtheta)
        return loss


class UntiedModel(Model):
    """PAPER.md §8's untied model ``untied-abs``: ``h = ReLU(W1 x)``, ``y' = ReLU(W2 h + b)``, target ``|x|``; six
    batched matmuls' worth of work per step (four products, one of them with the row of ones for the bias).

    ``theta`` holds all of ``W1 [inst, m, n]``, then ``[W2, b]`` per instance, ``[inst, n, m + 1]``: the shape in
    which the output layer's weight and bias gradients come out of one matmul, ``D [h; 1]^T``. The input is
    ``x = a X'`` as for the tied forms (``a`` folded into ``W1``), signed or not; ``|x| = a |X'|``.

    With ``compact`` (a part drawn as active elements, :class:`~.sampling.SparseSampler`) each instance computes on
    its samples with at least one active feature only (:meth:`compute_grads_sparse`): a sample with x = 0 has
    h = 0, output ReLU(b) and target 0, so it adds exactly ``c b [b > 0]`` to the bias gradient, ``c² b₊² r²`` per
    feature to the loss, and nothing else; those samples are added in closed form. At 1 − S = 0.001 and n = 100,
    91 % of the samples are empty. The same math summed in another order (tested against autograd).
    """

    def __init__(self, W1: Tensor, W2: Tensor, b: Tensor, importance: Tensor, a: Tensor, batch_size: int,
                 compact: bool = False):
        torch.nn.Module.__init__(self)
        inst, m, n = W1.shape
        if W2.shape != (inst, n, m) or b.shape != (inst, n):
            raise ConfigError(f"untied-abs needs W1 [inst, m, n], W2 [inst, n, m], b [inst, n]; got "
                              f"{tuple(W1.shape)}, {tuple(W2.shape)}, {tuple(b.shape)}")
        B = batch_size
        self.inst, self.m, self.n, self.B = inst, m, n, B
        # sparse_encoder: the step loop hands this module the active elements (compute_grads_sparse)
        self.relu, self.hidden_relu, self.sparse_encoder = True, True, compact
        self.hit_weights = False  # compute_grads_sparse reads only which samples have a hit, from hit_h
        self.occupied = torch.zeros(inst * batch_size if compact else 1, dtype=torch.bool, device=W1.device)
        dev = W1.device
        self.nw1 = inst * m * n
        self.theta = torch.cat([W1.reshape(-1), torch.cat([W2, b[:, :, None]], dim=2).reshape(-1)]).float()
        self.gtheta = torch.zeros_like(self.theta)
        self.W1 = self.theta[:self.nw1].view(inst, m, n)
        self.T2 = self.theta[self.nw1:].view(inst, n, m + 1)  # [W2, b]
        self.gW1 = self.gtheta[:self.nw1].view(inst, m, n)
        self.gT2 = self.gtheta[self.nw1:].view(inst, n, m + 1)
        self.W2t = self.T2[:, :, :m].transpose(1, 2)
        # the tied forms' names, for code that reads any module's bias and its gradient
        self.W, self.b, self.gW, self.gb = self.W1, self.T2[:, :, m], self.gW1, self.gT2[:, :, m]
        self._loss_constants(importance, a, batch_size)
        # H = WA X = [h_pre; 1]: WA = [[W1 diag(a), 0], [0, 1]] keeps the row of ones for the bias.
        self.WA = torch.zeros(inst, m + 1, n + 1, device=dev)
        self.WA[:, m, n] = 1.0
        self.WAw = self.WA[:, :m, :n]
        self.H = torch.empty(inst, m + 1, B, device=dev)
        self.Hm = self.H[:, :m]
        self.Ht = self.H.transpose(1, 2)
        self.PZ = torch.empty(inst, n, m + 1, device=dev)  # c z = [c W2, c b] [h; 1]
        self.Zc = torch.empty(inst, n, B, device=dev)
        self.D = torch.empty(inst, n, B, device=dev)
        self.Xabs = torch.empty(inst, n, B, device=dev)
        self.abs_ready = False  # set by the step loop when its conversion of the words writes |X'| into Xabs
        self.gh = torch.empty(inst, m, B, device=dev)
        self.Q1 = torch.empty(inst, m, n + 1, device=dev)
        self.Q1n = self.Q1[:, :, :n]
        self.neg_ca = (-(self.c * self.a))[:, :, None].contiguous()
        self.a_row = self.a[:, None, :]
        self.c_col = self.c[:, :, None]

    def compute_grads(self, X: Tensor, want_loss: bool = False) -> Optional[Tensor]:
        n = self.n
        Xp = X[:, :n]
        torch.mul(self.W1, self.a_row, out=self.WAw)
        torch.bmm(self.WA, X, out=self.H)
        self.Hm.relu_()
        torch.mul(self.T2, self.c_col, out=self.PZ)
        torch.bmm(self.PZ, self.H, out=self.Zc)  # c z
        if not self.abs_ready:
            torch.abs(Xp, out=self.Xabs)
        torch.addcmul(self.Zc, self.Xabs, self.neg_ca, out=self.D)  # c (z - |x|)
        loss: Optional[Tensor] = None
        if want_loss:  # c (relu(z) - |x|) = c (z - |x|) - c min(z, 0)
            loss = self._loss(self.D - self.Zc.clamp(max=0))
        torch.ops.aten.threshold_backward(self.D, self.Zc, 0.0, grad_input=self.D)  # dL/dz
        torch.bmm(self.D, self.Ht, out=self.gT2)  # [dL/dW2, dL/db] = dL/dz [h; 1]^T
        torch.bmm(self.W2t, self.D, out=self.gh)  # dL/dh = W2^T dL/dz, through h = ReLU(W1 x):
        torch.ops.aten.threshold_backward(self.gh, self.Hm, 0.0, grad_input=self.gh)
        torch.bmm(self.gh, X.transpose(1, 2), out=self.Q1)  # dL/dW1 = (dL/dh) x^T = ((dL/dh) X'^T) diag(a)
        torch.mul(self.Q1n, self.a_row, out=self.gW1)
        return loss

    def compute_grads_sparse(self, X: Tensor, hit_h: Tensor, hit_w: Tensor, value: Tensor,
                             want_loss: bool = False) -> Optional[Tensor]:
        if not self.sparse_encoder:
            return self.compute_grads(X, want_loss)
        inst, n, m, B = self.inst, self.n, self.m, self.B
        # the samples with an active feature, instance-major and sorted
        self.occupied.index_fill_(0, hit_h, True)
        samples = self.occupied.nonzero().view(-1)
        self.occupied.index_fill_(0, hit_h, False)
        counts: List[int] = torch.bincount(torch.div(samples, B, rounding_mode="floor"), minlength=inst).tolist()
        torch.mul(self.W1, self.a_row, out=self.WAw)
        torch.mul(self.T2, self.c_col, out=self.PZ)
        # the empty samples: z = b, target 0, dL/dz = c b [b > 0] each
        bias = self.c * self.b.clamp(min=0)  # [inst, n]
        losses: List[Tensor] = []
        start = 0
        for i in range(inst):
            k = counts[i]
            cols = samples[start:start + k] - i * B
            start += k
            empty = float(B - k)
            Xi = X[i].index_select(1, cols)  # [n + 1, k]
            H = torch.mm(self.WA[i], Xi)
            H[:m].relu_()
            Zc = torch.mm(self.PZ[i], H)
            D = torch.addcmul(Zc, Xi[:n].abs(), self.neg_ca[i])
            if want_loss:
                r = self.loss_r[i]
                losses.append((D - Zc.clamp(max=0)).mul(r).square().sum() + (bias[i] * r[:, 0]).square().sum() * empty)
            torch.ops.aten.threshold_backward(D, Zc, 0.0, grad_input=D)
            torch.mm(D, H.t(), out=self.gT2[i])
            self.gT2[i, :, m].add_(bias[i], alpha=empty)
            gh = torch.mm(self.W2t[i], D)
            torch.ops.aten.threshold_backward(gh, H[:m], 0.0, grad_input=gh)
            torch.mul(torch.mm(gh, Xi[:n].t()), self.a_row[i], out=self.gW1[i])
        if want_loss:
            return torch.stack(losses)
        return None

    def unpack(self, theta: Tensor) -> dict[str, Tensor]:
        inst, m, n = self.inst, self.m, self.n
        T2 = theta[self.nw1:].view(inst, n, m + 1)
        return {"W1": theta[:self.nw1].view(inst, m, n), "W2": T2[:, :, :m], "b": T2[:, :, m]}


def choose_form(n_features: int, n_hidden: int, model: str = "relu") -> str:
    """'gram' or 'hidden' (see :data:`GRAM_MAX_FEATURES`); ``hidden-relu`` has no gram form (its hidden layer is
    not linear); ``untied-abs`` has its own ('untied')."""
    if model == "untied-abs":
        return "untied"
    return "gram" if n_features <= GRAM_MAX_FEATURES and model != "hidden-relu" else "hidden"


def uses_sparse_encoder(density: Tensor, sparse_input: bool) -> bool:
    """Whether a part with these densities ``[inst, feat]`` sums the input products over its active elements."""
    return (sparse_input and density.shape[1] >= SPARSE_ENCODER_MIN_FEATURES
            and float(density.sum(dim=1).mean()) <= SPARSE_ENCODER_MAX_ACTIVE)


def build_model(params: dict[str, Tensor], importance: Tensor, a: Tensor, batch_size: int, model: str,
                sparse_encoder: bool = False) -> Model:
    """The gradient module of any family the engine trains, from its parameters by name; ``sparse_encoder``: the
    part comes as active elements and the module uses them (the tied hidden form's sparse encoder, the untied
    model's compact batches)."""
    if model == "untied-abs":
        return UntiedModel(params["W1"], params["W2"], params["b"], importance, a, batch_size, compact=sparse_encoder)
    return make_model(params["W"], params["b"], importance, a, batch_size, model, sparse_encoder=sparse_encoder)


def make_model(W: Tensor, b: Tensor, importance: Tensor, a: Tensor, batch_size: int, model: str,
               form: str | None = None, sparse_encoder: bool = False) -> Model:
    """The gradient module of a tied family (``model`` 'relu' or 'linear') in the form that suits its shape;
    ``sparse_encoder`` (the hidden form only, see :func:`uses_sparse_encoder`): sum the input products over the
    active elements."""
    form = form or choose_form(W.shape[2], W.shape[1], model)
    if form == "gram":
        if model == "hidden-relu":
            raise ConfigError("the gram form computes W^T W x, which a ReLU hidden layer does not; use the hidden form")
        return GramModel(W, b, importance, a, batch_size, model)
    return HiddenModel(W, b, importance, a, batch_size, model, sparse_encoder=sparse_encoder)
