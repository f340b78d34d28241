"""`PackedRun`: k trials of one shape trained as one vmapped model, each still its own run.

Each member is a full solo `TrainingRun` built from its own config (same seed → same initial
weights, data split, shuffling stream, optimiser and LR-scheduler objects as when it trains
alone); the pack takes its weights into stacked tensors and trains them with one vmapped
forward/backward and a `FusedOptimizer` step. The member's own `TrainingRun` stays as its
shadow: its `torch.optim` optimiser and `lr_scheduler` hold the member's schedule (stepped
once per epoch with the member's validation loss, exactly as solo), and on export the
stacked rows are written back into it, so a member's checkpoint is byte-for-byte a
`TrainingRun` state (`trainables.base.CHECKPOINT_FILE`) and a solo state loads into a slot.

Data order is per member (each member's own `torch.Generator` draws its own permutation,
as solo). Cost: the batch is gathered as `[k, batch, ...]` instead of shared, so inputs are k×
larger and the first layer is a batched matmul rather than one matmul; on the digits MLP this
is a few per cent of the epoch (`python -m benchmarks.packing` prints both). It is what
makes a packed member's curve match its solo curve.

What is not per member: the global torch RNG behind dropout masks (vmap's
`randomness="different"` draws all members' masks from one stream), so with dropout > 0 a
member's curve matches solo in distribution, not sample by sample; its checkpoint carries the
pack's global RNG state, which a solo restore accepts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from trainables.data import subset
from trainables.packing.keys import mismatch, pack_key, unpackable_reason
from trainables.packing.optim import FusedOptimizer
from trainables.packing.stack import (
    NotPackable,
    make_template,
    member_tensors,
    set_dropout_active,
    vmapped,
)
from trainables.run import NONFINITE, TrainingRun, peak_memory_mb
from trainables.schedules import step_scheduler

MemberId = Hashable


class PackedRun:
    """Members of `trainable_cls` (a `TorchTrainable`) trained together; `add` / `remove` /
    `compact` change the pack between epochs without touching the other members' rows."""

    def __init__(self, trainable_cls: Any, assigned_gpus: list | None = None) -> None:
        self.cls, self.assigned_gpus = trainable_cls, assigned_gpus
        self.members: dict[MemberId, TrainingRun] = {}
        self.rows: dict[MemberId, int] = {}
        self.free_rows: list[int] = []
        self.key: str | None = None
        self.params: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}
        self.template: torch.nn.Module | None = None
        self.optimizer: FusedOptimizer | None = None
        self._pool_offsets: dict[int, int] = {}
        self._x_pool = self._y_pool = None

    # ---- membership -------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Rows held (live members + free slots)."""
        return len(self.rows) + len(self.free_rows)

    def add(self, member_id: MemberId, config: Mapping[str, Any],
            state: Mapping[str, Any] | None = None) -> None:
        """Build `config`'s solo run (restored from a `TrainingRun` `state` if given) and put
        it into a free row, or a new one."""
        if member_id in self.members:
            raise ValueError(f"member {member_id!r} is already in the pack")
        run = self.cls.make_run(config, assigned_gpus=self.assigned_gpus)
        reason = unpackable_reason(run.cfg)
        if reason:
            raise NotPackable(reason)
        if state is not None:
            run.load_state_dict(state)
        if self.template is None:
            self._start(run, config)
        elif pack_key(run.config) != self.key:
            first = next(iter(self.members.values())).config
            raise NotPackable("members must share " + ", ".join(mismatch(first, run.config)))
        self._add_data(run)
        row = self.free_rows.pop(0) if self.free_rows else self._grow()
        self.members[member_id], self.rows[member_id] = run, row
        self._write_row(row, run)

    def remove(self, member_id: MemberId) -> TrainingRun:
        """Drop a member (its row becomes a free slot for the next `add`); returns its run."""
        self.free_rows.append(self.rows.pop(member_id))
        return self.members.pop(member_id)

    def compact(self) -> None:
        """Drop the free rows, so every step runs the live members only."""
        if not self.free_rows:
            return
        keep = sorted(self.rows.values())
        index = torch.tensor(keep, device=self._device)
        self._reindex(lambda t: t.index_select(0, index))
        new = {old: i for i, old in enumerate(keep)}
        self.rows = {m: new[r] for m, r in self.rows.items()}
        self.free_rows = []

    def _start(self, run: TrainingRun, config: Mapping[str, Any]) -> None:
        """Template from a model built with dropout > 0 so it has every dropout position."""
        self.key, self._device = pack_key(run.config), run.device
        probe = self.cls.build_model({**run.config, "dropout": 0.5}, run.data)
        self.template = make_template([probe, run.model]).to(run.device)
        self.eval_batch_size, self.batch_size = run.cfg.eval_batch_size, run.cfg.batch_size
        names = self.template.state_dict()
        params = {n for n, _ in self.template.named_parameters()}
        self.params = {n: torch.zeros((0, *t.shape), dtype=t.dtype, device=run.device)
                       .requires_grad_(True) for n, t in names.items() if n in params}
        self.buffers = {n: torch.zeros((0, *t.shape), dtype=t.dtype, device=run.device)
                        for n, t in names.items() if n not in params}
        self.optimizer = FusedOptimizer(list(self.params.values()), run.cfg.optimizer, 0)
        self._train_fn = vmapped(self.template, x_batched=True)
        self._eval_shared = vmapped(self.template, x_batched=False)

    def _grow(self) -> int:
        self._reindex(lambda t: torch.cat([t, t.new_zeros((1, *t.shape[1:]))]))
        return self.size  # rows + free rows before the new one is assigned

    def _reindex(self, fn) -> None:
        """Apply a row map to every stacked tensor, keeping params leaves that need grad."""
        self.params = {n: fn(p.detach()).requires_grad_(True) for n, p in self.params.items()}
        self.buffers = {n: fn(b) for n, b in self.buffers.items()}
        opt = self.optimizer
        opt.params = list(self.params.values())
        opt.state = [{n: fn(t) for n, t in s.items()} for s in opt.state]
        opt.hyper = {n: fn(t) for n, t in opt.hyper.items()}
        opt.step_count = fn(opt.step_count)

    # ---- rows <-> solo runs ------------------------------------------------------------
    def _param_pairs(self, run: TrainingRun) -> list[tuple[str, torch.Tensor]]:
        """(template name, member parameter) by position — the optimiser's order."""
        names = [n for n, _ in self.template.named_parameters()]
        return list(zip(names, run.model.parameters(), strict=True))

    @torch.no_grad()
    def _write_row(self, row: int, run: TrainingRun) -> None:
        tensors = member_tensors(self.template, run.model)
        for name, t in {**self.params, **self.buffers}.items():
            t[row] = tensors[name].to(t.device)
        opt, steps = self.optimizer, 0.0
        for j, (_, p) in enumerate(self._param_pairs(run)):
            saved = run.optimizer.state.get(p, {})
            for name, t in opt.state[j].items():
                t[row] = saved[name] if saved.get(name) is not None else 0.0
            if "step" in saved:
                steps = float(saved["step"])
            elif saved.get("momentum_buffer") is not None:
                steps = 1.0  # SGD keeps no count; only "has a buffer" matters
        opt.step_count[row] = steps
        run.optimizer.state.clear()  # the pack's rows hold it from now on
        # the shadow optimiser never steps; tell its lr_scheduler not to warn about that
        run.optimizer._opt_called = True
        self._sync_hyper(row, run)

    def _sync_hyper(self, row: int, run: TrainingRun) -> None:
        group = run.optimizer.param_groups[0]
        hyper = self.optimizer.hyper
        hyper["lr"][row] = group["lr"]
        hyper["weight_decay"][row] = group["weight_decay"]
        hyper["momentum"][row] = group.get("momentum", 0.0)
        hyper["nesterov"][row] = float(bool(group.get("nesterov", False)))

    @torch.no_grad()
    def _read_row(self, member_id: MemberId) -> TrainingRun:
        """Write the member's rows back into its solo run (weights, buffers, optimiser)."""
        run, row = self.members[member_id], self.rows[member_id]
        names = [n for n in self.template.state_dict() if not n.endswith("member_p")]
        for name, t in zip(names, run.model.state_dict().values(), strict=True):
            t.copy_({**self.params, **self.buffers}[name][row])
        opt, step = self.optimizer, float(self.optimizer.step_count[row])
        run.optimizer.state.clear()
        for j, (_, p) in enumerate(self._param_pairs(run)):
            if step == 0 or (opt.kind == "sgd" and run.optimizer.param_groups[0]["momentum"] == 0):
                continue  # torch keeps no state before the first step / without momentum
            state = {n: t[row].clone() for n, t in opt.state[j].items()}
            if opt.kind != "sgd":
                state["step"] = torch.tensor(step, dtype=torch.float32)
            run.optimizer.state[p] = state
        return run

    def member_state(self, member_id: MemberId) -> dict[str, Any]:
        """The member as a `TrainingRun.state_dict()` (a solo run restores it)."""
        run = self._read_row(member_id)
        try:
            return run.state_dict()
        finally:
            run.optimizer.state.clear()

    def save_member(self, member_id: MemberId, path) -> None:
        torch.save(self.member_state(member_id), path)

    # ---- data --------------------------------------------------------------------------
    def _add_data(self, run: TrainingRun) -> None:
        """Pool every distinct dataset's training tensors (members' seeds may split apart)."""
        key = id(run.data)
        if key in self._pool_offsets:
            return
        x, y = run.train_data(1.0)
        if self._x_pool is None:
            self._pool_offsets[key], self._x_pool, self._y_pool = 0, x, y
            self._val_size = len(run._x_val)
            return
        if len(run._x_val) != self._val_size:  # validation batches stack across members
            raise NotPackable("members' validation splits differ in size")
        self._pool_offsets[key] = len(self._x_pool)
        self._x_pool, self._y_pool = torch.cat([self._x_pool, x]), torch.cat([self._y_pool, y])

    def _train_order(self, run: TrainingRun, fraction: float) -> torch.Tensor:
        """Pool indices of this epoch's batches, in the order the solo run would draw them."""
        offset = self._pool_offsets[id(run.data)]
        if fraction >= 1.0:
            base = torch.arange(len(run.data.y_train), device=self._device)
        else:
            base = subset(run.data.y_train, fraction, run.cfg.seed).to(self._device)
        order = torch.randperm(len(base), generator=run.generator).to(self._device)
        return offset + base[order]

    # ---- training ----------------------------------------------------------------------
    def train_one_epoch(self, member_ids: Iterable[MemberId] | None = None
                        ) -> dict[MemberId, dict[str, Any]]:
        """One epoch for `member_ids` (default: all); per member, the metrics dict
        `TrainingRun.train_one_epoch` returns, plus `pack_size`."""
        ids = list(self.members if member_ids is None else member_ids)
        if not ids:
            return {}
        runs = [self.members[m] for m in ids]
        fractions = [r.cfg.data_fraction(r.epoch + 1) for r in runs]
        orders = [self._train_order(r, f) for r, f in zip(runs, fractions)]
        rows = torch.tensor([self.rows[m] for m in ids], device=self._device)
        for run in runs:
            run.model_costs()  # a new member measures now, while its shadow holds its row
        _sync(self._device)
        start = time.perf_counter()
        loss, seen = self._train_batches(rows, orders)
        _sync(self._device)
        seconds = time.perf_counter() - start
        val_loss, val_acc = self._evaluate(rows, runs)
        out = {}
        for j, (m, run) in enumerate(zip(ids, runs)):
            run.epoch += 1
            out[m] = self._metrics(run, float(loss[j]) / max(seen[j], 1), seen[j], seconds,
                                   fractions[j], float(val_loss[j]), float(val_acc[j]))
            out[m]["pack_size"] = len(ids)
            self._sync_hyper(self.rows[m], run)
        return out

    def _metrics(self, run: TrainingRun, train_loss: float, seen: int, seconds: float,
                 fraction: float, val_loss: float, val_acc: float) -> dict[str, Any]:
        """Same keys and meaning as `TrainingRun.train_one_epoch` (the schedule steps here).

        `params` and `latency_ms` are the member's own model measured alone
        (`TrainingRun.model_costs` on its shadow run, which is that config's solo model), not
        the pack's stacked template: they equal a solo run's up to timing noise."""
        metrics: dict[str, Any] = {
            "train_loss": train_loss, "lr": run.lr, "epoch": run.epoch,
            "data_fraction": fraction, "epoch_seconds": seconds,
            "samples_per_s": seen / max(seconds, 1e-9), **run.model_costs(),
        }
        if not math.isfinite(train_loss):
            metrics.update(train_loss=math.nan, val_loss=math.nan, val_accuracy=math.nan)
            metrics.update(peak_memory_mb=peak_memory_mb(self._device), done=True,
                           error=NONFINITE)
            return metrics
        step_scheduler(run.scheduler, val_loss)
        metrics.update(val_loss=val_loss, val_accuracy=val_acc,
                       peak_memory_mb=peak_memory_mb(self._device))
        if run.cfg.max_epochs is not None and run.epoch >= run.cfg.max_epochs:
            metrics["done"] = True
        return metrics

    def _train_batches(self, rows: torch.Tensor, orders: list[torch.Tensor]
                       ) -> tuple[torch.Tensor, list[int]]:
        """All members' batches; members with equal epoch lengths step together.

        A member whose loss turns non-finite stops for the rest of the epoch at the same
        16-batch check as `loop.train_epoch`.
        """
        total = torch.zeros(len(orders), dtype=torch.float64, device=self._device)
        seen = [0] * len(orders)
        alive = [True] * len(orders)
        groups: dict[int, list[int]] = {}
        for j, order in enumerate(orders):
            groups.setdefault(len(order), []).append(j)
        stacked = {n: torch.stack([orders[j] for j in js]) for n, js in groups.items()}
        plans = {n: self._group_plan(rows, js, alive) for n, js in groups.items()}
        set_dropout_active(self.template, {n: b[rows] for n, b in self.buffers.items()})
        bs = self.batch_size
        for b, start in enumerate(range(0, max(groups), bs)):
            for n, (live, live_t, sub, keep) in plans.items():
                if start >= n or not live:
                    continue
                idx = stacked[n][:, start:start + bs]
                if keep is not None:
                    idx = idx[keep]
                losses = self._step(sub, idx)
                total.index_add_(0, live_t, losses.double(), alpha=idx.shape[1])
                for j in live:
                    seen[j] += idx.shape[1]
            if b % 16 == 15:
                finite = torch.isfinite(total).tolist()
                if not all(f for f, a in zip(finite, alive) if a):
                    alive = [a and f for a, f in zip(alive, finite)]
                    plans = {n: self._group_plan(rows, js, alive) for n, js in groups.items()}
        return total, seen

    def _group_plan(self, rows: torch.Tensor, js: list[int], alive: list[bool]):
        """(live members, the same as a tensor, pack rows to step or None for all rows,
        which of the group's stacked orders to keep or None for all) of one equal-length
        group."""
        keep = [i for i, j in enumerate(js) if alive[j]]
        live = [js[i] for i in keep]
        sub = rows[live]
        if len(sub) == self.size and bool((sub == torch.arange(self.size, device=sub.device)
                                           ).all()):
            sub = None  # every row, in order: no gather
        keep_t = None if len(keep) == len(js) else torch.tensor(keep, device=self._device)
        return live, torch.tensor(live, device=self._device), sub, keep_t

    def _step(self, sub: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor:
        """One fused optimiser step for rows `sub` (None: all) on batches `idx`."""
        if sub is None:
            params, buffers = self.params, self.buffers
        else:
            params = {n: p[sub] for n, p in self.params.items()}
            buffers = {n: b[sub] for n, b in self.buffers.items()}
        self.template.train()
        logits = self._train_fn(params, buffers, self._x_pool[idx])
        g, n = idx.shape
        losses = F.cross_entropy(logits.reshape(g * n, -1), self._y_pool[idx].reshape(-1),
                                 reduction="none").view(g, n).mean(dim=1)
        self.optimizer.zero_grad()
        losses.sum().backward()
        self.optimizer.step(sub)
        if sub is not None:
            with torch.no_grad():
                for name, b in buffers.items():
                    self.buffers[name].index_copy_(0, sub, b)
        return losses.detach()

    def evaluate(self, member_ids: Iterable[MemberId] | None = None, split: str = "test"
                 ) -> dict[MemberId, tuple[float, float]]:
        """Per member, (mean cross-entropy, accuracy) on `split` of its own data, all members
        in one vmapped pass — what `TrainingRun.evaluate_split` gives a solo run (the
        recorded-curve benchmark scores every epoch on the test split this way)."""
        ids = list(self.members if member_ids is None else member_ids)
        if not ids:
            return {}
        runs = [self.members[m] for m in ids]
        rows = torch.tensor([self.rows[m] for m in ids], device=self._device)
        xs, ys = zip(*(r._to_device(*r.data.split(split)) for r in runs))
        loss, acc = self._evaluate(rows, runs, (list(xs), list(ys)))
        return {m: (float(loss[j]), float(acc[j])) for j, m in enumerate(ids)}

    @torch.no_grad()
    def _evaluate(self, rows: torch.Tensor, runs: list[TrainingRun],
                  split: tuple[list, list] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-member (mean cross-entropy, accuracy) on each member's validation split, or on
        `split` (per member, its inputs and labels)."""
        params = {n: p[rows] for n, p in self.params.items()}
        buffers = {n: b[rows] for n, b in self.buffers.items()}
        shared = all(r.data is runs[0].data for r in runs)
        xs, ys = split if split is not None else ([r._x_val for r in runs],
                                                  [r._y_val for r in runs])
        x_val = xs[0] if shared else torch.stack(xs)
        y_val = ys[0] if shared else torch.stack(ys)
        fn = self._eval_shared if shared else self._train_fn
        self.template.eval()
        loss = torch.zeros(len(runs), dtype=torch.float64, device=self._device)
        correct = torch.zeros(len(runs), dtype=torch.long, device=self._device)
        n = x_val.shape[0 if shared else 1]
        for start in range(0, n, self.eval_batch_size):
            end = min(n, start + self.eval_batch_size)
            xb = x_val[start:end] if shared else x_val[:, start:end]
            yb = (y_val[start:end].expand(len(runs), -1) if shared else y_val[:, start:end])
            logits = fn(params, buffers, xb).float()
            ce = F.cross_entropy(logits.flatten(0, 1), yb.reshape(-1), reduction="none")
            loss += ce.view(len(runs), -1).sum(dim=1).double()
            correct += (logits.argmax(dim=2) == yb).sum(dim=1)
        return loss / max(n, 1), correct.double() / max(n, 1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
