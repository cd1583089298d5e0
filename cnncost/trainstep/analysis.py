"""The walk of one training step: which tensors require grad, which storages autograd saves, what it costs.

Tensors are tracked per sample (``saving.Tensor``): a storage id, a dtype and whether it requires
grad. Each leaf's kind says what it saves (``Kind.step``); a storage saved by several layers (a ReLU's
result that the next convolution saves again) counts once, for the first layer that saves it.
Autocast is applied as torch applies it: an op autocast runs in lower precision (or float32) reads a
cast copy of an input of another dtype, a new storage; one of the same dtype is read as it is.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import layers as L
from ..arith import total
from ..arch import ParameterError
from ..errors import CnncostError
from ..finetune import trainable_layers
from ..kinds import kind_for
from ..kinds.arithmetic import merge_saved
from ..kinds.saving import ITEMSIZE, NotModelled, Saved, Site, Tensor, elements
from ..walk import Fold, fold
from .options import Step
from .states import ModelState, model_state


class LayerStep(NamedTuple):
    """One leaf's part of the step."""

    name: str
    type: str
    trains: bool  # its parameters require grad
    training: bool  # module.training during the step
    in_graph: bool  # its output requires grad (so it saves what its backward needs)
    forward_flops: Any  # per sample
    input_grad_flops: Any  # per sample: the gradient with respect to its input
    weight_grad_flops: Any  # per sample: the gradient with respect to its weights
    saved_per_sample: Any  # bytes of the storages this layer is the first to save, per sample
    saved_fixed: Any  # bytes of those storages that do not grow with the batch
    groups: Any = 1  # a convolution's groups (FlopCounterMode counts its weight gradient groups times)

    @property
    def flops(self) -> Any:
        """Forward + backward FLOPs per sample."""
        return self.forward_flops + self.input_grad_flops + self.weight_grad_flops


class StepCost(NamedTuple):
    """Everything one training step costs."""

    step: Step
    layers: list  # LayerStep, in execution order
    loss_saved_per_sample: Any  # the loss's saved tensors: log-probabilities and targets (binary: scores, targets)
    loss_saved_fixed: Any  # the cross-entropy's total weight (a 0-d float32); none for the binary loss
    state: ModelState
    # The largest (input + output) storage bytes of one leaf, per sample: both live while it runs.
    working_per_sample: Any = 0
    requires: tuple = ()  # (expression, minimum, why) conditions of a symbolic step (kinds.saving.Effect)

    def _per_batch(self, per_sample: Any, fixed: Any) -> Any:
        return self.step.batch * per_sample + fixed

    @property
    def train_flops(self) -> Any:
        """FLOPs of the step: forward and backward over the batch."""
        return self.step.batch * total(row.flops for row in self.layers)

    @property
    def forward_flops(self) -> Any:
        """FLOPs of the step's forward pass alone."""
        return self.step.batch * total(row.forward_flops for row in self.layers)

    @property
    def saved_per_sample(self) -> Any:
        """Bytes autograd saves per sample of the batch."""
        return total([row.saved_per_sample for row in self.layers] + [self.loss_saved_per_sample])

    @property
    def saved_fixed(self) -> Any:
        """Bytes autograd saves whatever the batch (BatchNorm statistics, autocast weight copies)."""
        return total([row.saved_fixed for row in self.layers] + [self.loss_saved_fixed])

    @property
    def saved_bytes(self) -> Any:
        """Bytes of the distinct storages autograd saves during the step."""
        return self._per_batch(self.saved_per_sample, self.saved_fixed)

    @property
    def train_bytes(self) -> Any:
        """Model state (parameters, buffers, gradients, optimizer state) plus saved-bytes."""
        return self.state.total + self.saved_bytes

    def peak_lower_bound(self, batch: int) -> int:
        """Bytes the step must hold at once at batch ``batch`` (numbers only), whatever the allocator does: at
        the start of backward every saved tensor is alive with the parameters, buffers and optimizer state; at
        the optimizer's step the gradients are; while a leaf runs its input and output are."""
        resident = self.state.params + self.state.buffers + self.state.optimizer
        saved = batch * self.saved_per_sample + self.saved_fixed
        return resident + max(saved, self.state.grads, batch * self.working_per_sample)

    def quantities(self) -> dict:
        """Every step quantity by its name in ``conventions.STEP_QUANTITIES``."""
        return {"train-flops": self.train_flops, "saved-bytes": self.saved_bytes,
                "param-bytes": self.state.params, "buffer-bytes": self.state.buffers,
                "grad-bytes": self.state.grads, "optimizer-bytes": self.state.optimizer,
                "train-bytes": self.train_bytes}


def analyze_step(table: Any, step: Step, input_grad: bool = False, loss: bool = True) -> StepCost:
    """The step ``step`` of the network ``table`` (an engine CostTable) describes; a layer whose saved tensors
    are not modelled, or a network with nothing to train or no logits, is a one-line error.

    ``input_grad``: the input requires grad, as a part of a larger network sees it (a layer's own check);
    ``loss=False``: the forward's saved tensors only, no loss on the output (which may then be any shape)."""
    network = table.network
    trainable = trainable_layers(network, step.strategy)
    walk = _StepWalk(table, trainable, step)
    x = Tensor(tuple(network.input_shape), walk.new_storage(network.input_shape, "fp32"), "fp32", input_grad)
    try:
        out = fold(network.layers, x, walk)
    except NotModelled as error:
        raise CnncostError(f"{error}: its saved tensors are not modelled, so no memory figure is given") from None
    if not loss:
        return StepCost(step, walk.rows, 0, 0, model_state(walk.states, step), walk.working, tuple(walk.requires))
    if not out.grad:
        raise ParameterError("strategy", f"nothing trains in {network.name} under {step.strategy}")
    if len(out.shape) != 1:
        raise CnncostError(f"{network.name}: a training step needs class scores, and its output is "
                           f"{'×'.join(str(d) for d in out.shape)} (no classifier top)")
    loss_per_sample, loss_fixed = _loss_saved(network.name, tuple(out.shape), step.loss)
    return StepCost(step, walk.rows, loss_per_sample, loss_fixed, model_state(walk.states, step),
                    walk.working, tuple(walk.requires))


def _loss_saved(name: str, scores: tuple, loss: str) -> tuple:
    """(bytes per sample, bytes whatever the batch) the step's loss saves, on an output of per-sample shape
    ``scores``."""
    if loss == "cross-entropy":
        # cross_entropy = log_softmax (float32 under autocast), then nll_loss: log-probabilities (the classes),
        # the targets (one int64 each) and the 0-d total weight.
        return scores[0] * ITEMSIZE["fp32"] + ITEMSIZE["int64"], ITEMSIZE["fp32"]
    if scores != (1,):
        raise ParameterError("binary", f"{name} outputs {'×'.join(str(d) for d in scores)} values; a binary head "
                                       "has 1 (the logit z of the positive class)")
    # cnncost train --binary: the output z becomes the scores [0, z], a new [B, 2] storage (made float32 for the
    # loss, a new storage again under autocast); binary_cross_entropy_with_logits saves its input, z, a view of
    # that float32 storage (both columns), and the float32 targets. Nothing whatever the batch.
    return 2 * ITEMSIZE["fp32"] + ITEMSIZE["fp32"], 0


class _StepWalk(Fold):
    """Tensors folded through the tree; a LayerStep per leaf."""

    def __init__(self, table: Any, trainable: frozenset, step: Step):
        self.table, self.trainable, self.step = table, trainable, step
        self.position = 0  # the next row of table.layers
        self.sizes: dict = {}  # storage -> bytes per sample
        self.saved: set = set()
        self.rows: list = []
        self.states: list = []  # (row, kind state, trains) per leaf
        self.started = False  # a leaf of the strategy's has run: the frozen prefix is over
        self.working: Any = 0  # max over leaves of input + output storage bytes per sample (numbers only)
        self.requires: list = []

    def new_storage(self, shape: tuple, dtype: str) -> int:
        """A fresh storage holding a per-sample tensor of ``shape`` and ``dtype``."""
        self.sizes[len(self.sizes)] = elements(shape) * ITEMSIZE[dtype]
        return len(self.sizes) - 1

    def leaf(self, node: Any, x: Tensor) -> Tensor:
        """The leaf's output tensor; its row appended."""
        row = self.table.layers[self.position]
        self.position += 1
        kind = kind_for(node)
        x = x._replace(shape=tuple(row.input_shape))
        y = tuple(row.output_shape)
        self.started = self.started or node.name in self.trainable
        trains = node.name in self.trainable and row.params != 0
        # zoo.training.freeze: the frozen prefix runs in eval mode, and so does every frozen BatchNorm.
        training = self.started and not (isinstance(node, (L.BatchNorm2d, L.BatchNorm1d))
                                          and node.name not in self.trainable)
        site = Site(node, x, y, trains, training, self.step.autocast, self.step.device, self.step.batch)
        # Kind.step may be None (not modelled); every kind registered today has one, and one added without it
        # fails here, as the call of None did, only with its layer type named
        assert kind.step is not None, f"{type(node).__name__}: its kind has no step rule"
        effect = kind.step(node, site)
        self.requires += effect.requires
        computes = self._compute_dtype(effect.cast, x.dtype)
        read = x if computes == x.dtype else Tensor(x.shape, self.new_storage(x.shape, computes), computes, x.grad)
        out_dtype = _promote(computes, effect.dtype) if effect.dtype else computes
        in_graph = x.grad or trains
        storage = x.storage if effect.view else self.new_storage(y, out_dtype)
        out = Tensor(y, storage, out_dtype, in_graph)
        if isinstance(self.sizes[storage], int) and isinstance(self.sizes[x.storage], int):
            both = self.sizes[x.storage] + (self.sizes[storage] if storage != x.storage else 0)
            self.working = max(self.working, both)
        per_sample, fixed = self._save(effect.saved, read, out) if in_graph else (0, 0)
        macs2 = 2 * row.macs
        self.rows.append(LayerStep(node.name, type(node).__name__, trains, training, in_graph, macs2,
                                   macs2 if x.grad else 0, macs2 if trains else 0, per_sample, fixed,
                                   getattr(node, "groups", 1) if row.macs != 0 else 1))
        self.states.append((row, kind.state(node, tuple(row.input_shape)), trains))
        return out

    def merge(self, node: L.Residual, body: Tensor, short: Tensor) -> Tensor:
        """``body op shortcut``: a new tensor; mul and div save operands (``merge_saved``)."""
        dtype = _promote(body.dtype, short.dtype)
        out = Tensor(body.shape if node.op == "add" else _broadcast(body.shape, short.shape),
                     -1, dtype, body.grad or short.grad)
        out = out._replace(storage=self.new_storage(out.shape, dtype))
        if out.grad:
            per_sample = total(self._first_save(t.storage) for t in merge_saved(node.op, body, short))
            self._add_to_last_row(per_sample)
        return out

    def concat(self, node: L.Concat, branches: list) -> Tensor:
        """torch.cat: a new tensor, nothing saved."""
        dtype = branches[0].dtype
        for branch in branches[1:]:
            dtype = _promote(dtype, branch.dtype)
        shape = (total(b.shape[0] for b in branches),) + tuple(branches[0].shape[1:])
        return Tensor(shape, self.new_storage(shape, dtype), dtype, any(b.grad for b in branches))

    def auxiliary(self, node: L.Auxiliary, x: Tensor) -> None:
        """A training-only head is not part of the step (cnncost train builds without it); a side output runs."""
        if node.training_only:
            self.position += len(L.leaves(node.nodes))
            return
        fold(node.nodes, x, self)

    def _compute_dtype(self, cast: str | None, dtype: str) -> str:
        """The dtype an op computes in under the step's autocast."""
        if self.step.autocast is None or cast is None:
            return dtype
        return self.step.autocast if cast == "low" else "fp32"

    def _save(self, saved: tuple, read: Tensor, out: Tensor) -> tuple:
        """(per-sample, fixed) bytes of the storages in ``saved`` not saved before."""
        per_sample: list = []
        fixed: list = []
        for item in saved:
            if item.tensor == "new":
                size = item.elements * ITEMSIZE[item.dtype]
                (per_sample if item.batched else fixed).append(size)
                continue
            per_sample.append(self._first_save((read if item.tensor == "input" else out).storage))
        return total(per_sample), total(fixed)

    def _first_save(self, storage: int) -> Any:
        """The storage's bytes per sample the first time it is saved, 0 after."""
        if storage in self.saved:
            return 0
        self.saved.add(storage)
        return self.sizes[storage]

    def _add_to_last_row(self, per_sample: Any) -> None:
        """A merge is not a leaf: what it saves is charged to the leaf that ran last."""
        if self.rows and per_sample != 0:
            last = self.rows[-1]
            self.rows[-1] = last._replace(saved_per_sample=last.saved_per_sample + per_sample)


def _promote(a: str, b: str) -> str:
    """torch's type promotion of two float dtypes."""
    return a if a == b else "fp32"


def _broadcast(a: tuple, b: tuple) -> tuple:
    """The broadcast shape of two same-rank per-sample shapes (a size-1 side takes the other's)."""
    return tuple(v if u == 1 else u for u, v in zip(a, b))


__all__ = ["LayerStep", "Saved", "StepCost", "analyze_step"]
