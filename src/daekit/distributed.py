"""Every distributed-training detail in one place: torch.distributed (DDP) launched by torchrun.

``torchrun --nproc_per_node=N -m daekit train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; ``setup``
reads them and joins the process group (gloo on CPU, NCCL on CUDA). Without torchrun WORLD_SIZE is
absent and everything here is a no-op, so single-process training runs the same code.

How results stay independent of the number of ranks: the training batch size in the config is the
batch *per rank*, b. All ranks plan the same global batch of b x N samples (order keyed by (seed,
epoch)); each gathers -- and for lazily read image folders decodes -- only its own b samples, placed
at their rows of an otherwise empty global batch, and corrupts the whole batch with the generator
keyed by (seed, epoch), so a sample's noise depends on its position in the global batch alone (exact
for every noise model whose random draws do not depend on pixel values, i.e. all but Poisson). DDP
averages the gradients: the gradient of the mean loss over the global batch. So 2 ranks x b equals
1 rank x 2b, and a checkpoint resumes on any number of ranks (the optimizer state is the same on all).
The redundant part per rank is drawing random numbers for b x N samples, small next to the model's
forward and backward, which is what is divided.

Rank 0 validates, logs and writes checkpoints; the others wait for its verdict (early stopping).
A rank that dies breaks the others' next collective: they stop with one clear line (and torchrun
stops the job); ``DAEKIT_DIST_TIMEOUT`` (seconds, default 300) bounds any wait on a silent peer.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn

from .errors import DaekitError


@dataclass(frozen=True)
class Context:
    """This process's place in the job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def shard(self, n: int) -> slice:
        """This rank's rows of a global batch of `n` (equal parts; a remainder goes to no one)."""
        per = n // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """Mean of a scalar tensor over ranks."""
        if not self.active:
            return value
        v = value.detach().clone().float().to(_collective_device())
        _guard(dist.all_reduce, v)
        return (v / self.world).to(value.device)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (picklable values made by daekit itself, never user files)."""
        if not self.active:
            return obj
        box = [obj]
        _guard(dist.broadcast_object_list, box, src=0)
        return box[0]

    def any(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag, true if it is true on any rank (one all-reduce): ranks that must act together agree."""
        if not self.active:
            return tuple(bool(f) for f in flags)
        v = torch.tensor([float(bool(f)) for f in flags], device=_collective_device())
        _guard(dist.all_reduce, v, op=dist.ReduceOp.MAX)
        return tuple(bool(x) for x in v.tolist())

    def barrier(self) -> None:
        if self.active:
            _guard(dist.barrier)


def _collective_device() -> torch.device:
    """Where a collective's tensors must live: the current GPU under NCCL, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


_COMMS_WORDS = ("gloo", "nccl", "connection", "timed out", "timeout", "socket", "peer")


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a collective; a dead or silent peer becomes one DaekitError line instead of a trace or a hang."""
    with peers_lost():
        return fn(*args, **kwargs)


@contextlib.contextmanager
def peers_lost() -> Iterator[None]:
    """Within the block (collectives, or a DDP step whose backward all-reduces the gradients), a failure
    of the process group becomes one DaekitError line saying what to do."""
    try:
        yield
    except (RuntimeError, dist.DistError) as e:  # DistBackendError / timeouts subclass these
        comms = isinstance(e, dist.DistError) or any(w in str(e).lower() for w in _COMMS_WORDS)
        if not dist.is_initialized() or not comms:  # another failure (e.g. out of memory) keeps its own words
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DaekitError(
            f"rank {dist.get_rank()}: lost contact with another rank of the job ({first}); "
            "stopping. Resume from the last checkpoint with --resume (any number of ranks), "
            "or let torchrun --max-restarts do it"
        ) from None


def context() -> Context:
    """The current process's context from torchrun's environment (no process group needed)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    return Context(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def restarted() -> bool:
    """Whether torchrun restarted this job after a failure (``--max-restarts``): it should resume."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0


def _attempt_store(ctx: Context, timeout: timedelta) -> dist.Store | None:
    """Under torchrun: the job's key-value store, under a key prefix of this attempt's own (None elsewhere).

    torchrun's agent keeps one store for the whole job. The ranks of a restarted attempt
    (``--max-restarts``) would otherwise find the dead attempt's addresses in it and fail to connect
    (seen on the CPU with gloo, about one restart in three). TORCHELASTIC_RESTART_COUNT cannot name the
    attempt: on two nodes an agent whose own workers did not fail restarts them with its count unchanged.
    So the ranks agree on a fresh generation number (``_agree_generation``) and use ``daekit/gen<N>/``.
    Who hosts the store follows torch's own env:// rendezvous.
    """
    if "TORCHELASTIC_RESTART_COUNT" not in os.environ or "MASTER_ADDR" not in os.environ:
        return None
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == str(True)
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), ctx.world,
                          is_master=not agent and ctx.is_main, timeout=timeout, multi_tenant=not agent)
    return dist.PrefixStore(f"daekit/gen{_agree_generation(store, ctx, timeout)}", store)


def _agree_generation(store: dist.Store, ctx: Context, timeout: timedelta, retry_s: float = 3.0) -> int:
    """A number every rank of this attempt shares and no earlier attempt used.

    Rank 0 draws it from a counter and answers each rank's join, which carries a nonce of that process;
    a rank that read a dead attempt's number gets no answer within `retry_s`, reads again and rejoins.
    """
    if ctx.is_main:
        gen = store.add("daekit/generation", 1)
        store.set("daekit/leader", str(gen))
        for r in range(1, ctx.world):
            store.wait([f"daekit/join/{gen}/{r}"], timeout)
            store.set(f"daekit/ack/{gen}/{r}", store.get(f"daekit/join/{gen}/{r}"))
        return gen
    nonce = uuid.uuid4().hex.encode()
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        store.wait(["daekit/leader"], timeout)
        gen = int(store.get("daekit/leader"))
        store.set(f"daekit/join/{gen}/{ctx.rank}", nonce)
        try:
            store.wait([f"daekit/ack/{gen}/{ctx.rank}"], timedelta(seconds=retry_s))
            if store.get(f"daekit/ack/{gen}/{ctx.rank}") == nonce:
                return gen
            time.sleep(0.1)  # a dead attempt's answer to a dead process: wait for the new leader
        except (RuntimeError, dist.DistError):  # no answer: a dead attempt's leader
            pass
        if time.monotonic() > deadline:
            raise DaekitError("cannot join the distributed job: rank 0 did not answer (DAEKIT_DIST_TIMEOUT)")


def setup(device: torch.device) -> tuple[Context, torch.device]:
    """Joins the process group if launched by torchrun; returns the context and this rank's device."""
    ctx = context()
    if not ctx.active:
        return ctx, device
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        timeout = timedelta(seconds=float(os.environ.get("DAEKIT_DIST_TIMEOUT", "300")))
        try:
            store = _attempt_store(ctx, timeout)
            if store is None:
                dist.init_process_group(backend, timeout=timeout)
            else:
                dist.init_process_group(backend, timeout=timeout, store=store, rank=ctx.rank, world_size=ctx.world)
        except (RuntimeError, ValueError) as e:
            raise DaekitError(f"cannot join the distributed job ({str(e).splitlines()[0]})") from None
    return ctx, device


def wrap(model: nn.Module, ctx: Context, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` when there are several ranks (the model itself otherwise).

    BatchNorm: on CUDA its layers become SyncBatchNorm (in place: the statistics are those of the
    global batch, so results match one process with the whole batch). SyncBatchNorm is CUDA-only; on
    the CPU each rank normalises its own shard and DDP hands rank 0's running statistics to every
    rank before each forward pass.
    """
    if not ctx.active:
        return model
    if device.type == "cuda" and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        for name, child in list(model.named_children()):  # in place: `model` keeps serving eval and checkpoints
            setattr(model, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def checksum(model: nn.Module) -> str:
    """A short hash of the weights (bit-exact), to check that replicas agree."""
    h = hashlib.sha256()
    for k, v in unwrap(model).state_dict().items():
        h.update(k.encode())
        h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def replica_checksums(model: nn.Module, ctx: Context) -> list[str]:
    """Every rank's weight checksum (on every rank); all equal unless the replicas diverged.

    Buffers (BatchNorm running statistics, which the last step updated from each rank's own shard on
    the CPU) are first set to rank 0's, as DDP does before every forward pass; parameters are compared
    as they are.
    """
    if ctx.active:
        for b in unwrap(model).buffers():
            _guard(dist.broadcast, b, 0)
    mine = checksum(model)
    if not ctx.active:
        return [mine]
    out: list[Any] = [None] * ctx.world
    _guard(dist.all_gather_object, out, mine)
    return out


def teardown() -> None:
    """Leaves the process group (end of a torchrun job)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
