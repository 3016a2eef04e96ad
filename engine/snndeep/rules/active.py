"""Bio-inspired active learning with a local three-factor (reward-modulated STDP) rule, no backprop.

The hidden layer is a fixed random spiking projection. For each sample the output neuron that
spikes most wins (ties broken by its mean input current). Its synapses carry an STDP eligibility,
the presynaptic trace at the times the winner spiked (plus a small baseline so a silent winner can
learn). A global reward (+1 correct, -1 wrong, weighted by class rarity) minus its running mean is
the third factor (a full dopamine dip on errors, a small burst on success):
dW_i = lr * dopamine * (+1 winner / -1 loser) * eligibility_i, with a covariance (mean-subtracted) trace.
Lateral inhibition makes the sign local: the losing output gets the opposite update.
The network chooses which unlabelled samples to be taught next by its own spiking uncertainty:
the smallest spike-count margin between the two outputs, or the smallest first-spike-latency gap.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from engine.snndeep.config import ModelConfig, RuleConfig
from engine.snndeep.encoding import first_spike_time, rate_encode
from engine.snndeep.metrics import EpochTimer, binary_metrics
from engine.snndeep.models import SpikingMLP, linear_over_time
from engine.snndeep.rules import EpochCallback, FoldData, RuleOutcome, class_weights
from engine.snndeep.rules.bptt import EVAL_BATCH, batches, validation_auc

SILENT_POST_BASELINE = 1.0  # postsynaptic factor = spikes + baseline, so silent outputs still learn
TIE_BREAK = 0.01  # weight of the mean input current when spike counts tie
BASELINE_RATE = 0.05  # running-mean speed of the reward baseline (reported as training accuracy)
REWARD_GAIN = 0.1  # dopamine burst on success relative to the dip on error
BIAS_RATE = 1.0  # the output excitability (bias) learns with the same rate
WEIGHT_BOUND = 1.0  # synaptic weights stay within +-bound x threshold (STDP weight bounds)


class ThreeFactorLearner:
    def __init__(self, model: SpikingMLP, n_inputs: int, rule: RuleConfig, mcfg: ModelConfig, seed: int = 0) -> None:
        self.model, self.rule, self.mcfg = model, rule, mcfg
        self.generator = torch.Generator().manual_seed(seed)
        self.trace_decay = math.exp(-1.0 / rule.trace_tau)
        self.reward_baseline = torch.zeros(())
        self.trace_mean: torch.Tensor | None = None
        with torch.no_grad():  # fixed random hidden projection, output weights learned from zero
            model.fc1.weight.normal_(0.0, rule.hidden_gain / n_inputs**0.5, generator=self.generator)
            model.fc1.bias.fill_(0.0)
            model.fc2.weight.zero_()
            model.fc2.bias.zero_()

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hidden spikes, output spikes and the decision value (counts + tie-break), per sample."""
        hidden, out = self.model(rate_encode(x, self.mcfg.timesteps, self.generator))
        drive = linear_over_time(self.model.fc2, hidden).mean(0)
        return hidden, out, out.sum(0) + TIE_BREAK * drive

    def presynaptic_trace(self, hidden: torch.Tensor) -> torch.Tensor:
        trace = torch.empty_like(hidden)
        running = torch.zeros_like(hidden[0])
        for t in range(hidden.shape[0]):
            running = self.trace_decay * running + hidden[t]
            trace[t] = running
        return trace

    @torch.no_grad()
    def update(self, x: torch.Tensor, y: torch.Tensor, reward_weight: torch.Tensor) -> None:
        hidden, out, decision = self.run(x)
        winner = decision.argmax(1)
        reward = torch.where(winner == y, 1.0, -1.0) * reward_weight
        # dopamine: a full dip on errors, a small burst on success (rewards the already-right far less)
        modulation = torch.where(reward < 0, reward, REWARD_GAIN * reward)
        self.reward_baseline += BASELINE_RATE * ((reward > 0).float().mean() - self.reward_baseline)
        # each output's sign is local: +1 for the winner, -1 for the neuron laterally inhibited
        role = torch.where(torch.nn.functional.one_hot(winner, 2).bool(), 1.0, -1.0)  # B x C
        post = out + SILENT_POST_BASELINE  # T x B x C
        trace = self.presynaptic_trace(hidden)
        self.trace_mean = trace.mean((0, 1)) if self.trace_mean is None else (
            self.trace_mean + BASELINE_RATE * (trace.mean((0, 1)) - self.trace_mean))
        # covariance form: each synapse compares its trace with its own running mean
        eligibility = torch.einsum("tbh,tbc->bch", trace - self.trace_mean, post) / out.shape[0]
        factor = self.rule.stdp_lr * modulation[:, None] * role  # B x C
        self.model.fc2.weight += torch.einsum("bc,bch->ch", factor, eligibility) / len(y)
        self.model.fc2.bias += (factor * post.mean(0)).sum(0) / len(y) * BIAS_RATE
        bound = WEIGHT_BOUND * self.mcfg.threshold
        self.model.fc2.weight.clamp_(-bound, bound)

    @torch.no_grad()
    def scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score for class 1, predicted class, and first-spike latency gap (for the latency criterion)."""
        parts = []
        for index in batches(len(x), EVAL_BATCH):
            _, out, decision = self.run(torch.from_numpy(x[index]))
            first = first_spike_time(out)
            parts.append((decision[:, 1] - decision[:, 0], decision.argmax(1), (first[:, 1] - first[:, 0]).abs()))
        return tuple(torch.cat(p).numpy() for p in zip(*parts))  # type: ignore[return-value]

    def uncertainty(self, x: np.ndarray) -> np.ndarray:
        """Higher is less certain."""
        margin, _, latency_gap = self.scores(x)
        if self.rule.uncertainty == "latency":
            return -latency_gap.astype(float) - 1e-3 * np.abs(margin)
        return -np.abs(margin)


def _initial_labels(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A stratified first labelled set (both classes present when possible)."""
    picks = [rng.permutation(np.flatnonzero(y == c))[: max(1, n // 2)] for c in (0, 1) if (y == c).any()]
    return np.concatenate(picks)[:max(n, len(picks))]


@torch.no_grad()
def train_active(
    model: SpikingMLP, data: FoldData, rule: RuleConfig, mcfg: ModelConfig,
    on_epoch: EpochCallback | None = None, seed: int = 0, strategy: str = "uncertainty",
) -> RuleOutcome:
    """`strategy`: "uncertainty" (the network picks) or "random" (the baseline it should beat)."""
    rng = np.random.default_rng(seed)
    learner = ThreeFactorLearner(model, data.n_inputs, rule, mcfg, seed)
    labelled = _initial_labels(data.y_train, rule.initial_labels, rng)
    timer, history, curve = EpochTimer(), [], []
    for round_index in range(rule.rounds + 1):
        weights = torch.tensor(class_weights(data.y_train[labelled]), dtype=torch.float32)
        x_lab, y_lab = torch.from_numpy(data.x_train[labelled]), torch.from_numpy(data.y_train[labelled])
        for _ in range(rule.passes_per_round):
            timer.start()
            for index in batches(len(labelled), rule.batch_size, rng):
                learner.update(x_lab[index], y_lab[index], weights[y_lab[index]])
            timer.stop()
        history.append(validation_auc(data.y_val, learner.scores(data.x_val)[0]))
        test_score, test_pred, _ = learner.scores(data.x_test)
        curve.append({"labels": int(len(labelled)), "val_auc": history[-1], **binary_metrics(data.y_test, test_score, test_pred)})
        if on_epoch is not None:
            on_epoch(round_index, history[-1])
        if round_index < rule.rounds:
            labelled = np.concatenate([labelled, _query(learner, data.x_train, labelled, rule, rng, strategy)])
    return RuleOutcome(test_score, test_pred, timer.seconds, int(np.mean([c["labels"] for c in curve])), history, curve,
                       notes=f"{strategy} queries; three-factor rule trains the output layer, hidden layer fixed random")


def _query(learner: ThreeFactorLearner, x: np.ndarray, labelled: np.ndarray, rule: RuleConfig,
           rng: np.random.Generator, strategy: str) -> np.ndarray:
    pool = np.setdiff1d(np.arange(len(x)), labelled)
    if len(pool) > rule.pool_limit:
        pool = rng.choice(pool, rule.pool_limit, replace=False)
    if strategy == "random" or len(pool) <= rule.query_size:
        return rng.permutation(pool)[: rule.query_size]
    order = np.argsort(-learner.uncertainty(x[pool]), kind="stable")
    return pool[order[: rule.query_size]]
