"""SFT's and DPO's log-probabilities on a CPU: the LM head only at the positions that have a label, in one plain
product, and the prefix every row of a batch shares through the backbone once.

TRL's trainers score tokens with a fused LM head (``trl.trainer.utils.add_fused_lm_head``): off Triton devices it
projects every position of the batch, in tiles, and computes them again in the backward pass, to save a GPU's
memory. On a CPU memory is not short, and that recomputation was 37% of an SFT step (profiled:
``benchmarks/results/round_time.txt``). Here the model's fused forward is replaced, on a CPU, by one that puts the
backbone's last hidden states at the positions whose next token is learned (a quarter of a ReAct example's tokens)
through the LM head once and returns the same fields (log-probabilities, entropy, top-1 hits, mean logits), so
TRL's own losses and metrics run unchanged on them: SFT's loss and eval loss, DPO's loss on the policy and the
reference. On a GPU, or for a model that scales or caps its logits, TRL's head is kept.

Every example of a round starts with the same system prompt (85 of a ReAct example's ~210 tokens), so the backbone
runs that shared prefix once per batch, not once per row: its keys and values are repeated across the batch and the
rest of each row attends to them as a cache. Gradients flow through the repeat into the one prefix pass, so the
loss and gradients are the same (to 1e-5, tested). Measured side by side (``benchmarks/results/round_time.txt``):
an SFT step 0.49x of TRL's head with dropout (0.80x of the label head without the shared prefix), a DPO step 0.57x.
Models with sliding-window or other non-global attention layers run every row whole.
"""

from __future__ import annotations

import types
from typing import Any

import torch
from trl import DPOTrainer, SFTTrainer
from trl.trainer.utils import FusedCausalLMOutput

__all__ = ["LabelHeadDPOTrainer", "LabelHeadSFTTrainer", "add_label_head", "plain_head", "shared_prefix"]

#: config fields of a model whose logits are not the plain product of the LM head (TRL's fused head knows them)
_SCALED = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")
#: a shared prefix shorter than this is not worth a second backbone call
MIN_SHARED_PREFIX = 16
#: the inputs the label head takes; a call with any other (router logits, images) goes to TRL's head
_INPUTS = frozenset({"input_ids", "attention_mask", "position_ids", "use_cache"})


def plain_head(model: Any) -> bool:
    """Whether the model's logits are its LM head's plain product (then the label head computes the same loss)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return all(getattr(config, name, None) in (None, 1, 1.0) for name in _SCALED)


def shared_prefix(input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> int:
    """How many leading tokens every row of the batch has in common (unpadded), leaving each row one of its own."""
    if input_ids.shape[0] < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(0)
    if attention_mask is not None:
        same &= attention_mask.bool().all(0)
    return min(int(same.long().cumprod(0).sum()), input_ids.shape[1] - 1)


def _global_attention_only(config: Any) -> bool:
    """Whether every attention layer sees the whole sequence (a cached prefix is then exactly a recomputed one)."""
    kinds = set(getattr(config, "layer_types", None) or ["full_attention"])
    return kinds == {"full_attention"} and not getattr(config, "sliding_window", None) \
        and not getattr(config, "use_sliding_window", False)


def backbone_states(backbone: Any, inputs: dict[str, torch.Tensor], *, share: bool = True) -> tuple[torch.Tensor, int]:
    """The backbone's last hidden states for the batch, the prefix all rows share computed once; and its length."""
    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    shared = shared_prefix(ids, mask) if share and inputs.get("position_ids") is None else 0
    if shared < MIN_SHARED_PREFIX or not _global_attention_only(backbone.config):
        return backbone(input_ids=ids, attention_mask=mask, position_ids=inputs.get("position_ids"),
                        use_cache=False).last_hidden_state, 0
    head = backbone(input_ids=ids[:1, :shared], use_cache=True)
    cache = head.cache
    cache.batch_repeat_interleave(ids.shape[0])  # autograd carries every row's gradient back to the one pass
    tail = backbone(input_ids=ids[:, shared:], attention_mask=mask, cache=cache, use_cache=True).last_hidden_state
    return torch.cat([head.last_hidden_state.expand(ids.shape[0], -1, -1), tail], dim=1), shared


def add_label_head(model: Any, *, share: bool = True, metrics: bool = True) -> None:
    """Replace ``model``'s fused forward (TRL's ``add_fused_lm_head``, called as ``model(..., labels=labels,
    fused_lm_head=True)``) by the label head: the same :class:`FusedCausalLMOutput` fields, zero where the label is
    -100, from one plain product at the learned positions (``share``: the prefix every row shares run once; the
    length of the last batch's is ``model.label_head_shared_prefix``; ``metrics``: also the fields trainers log,
    which a frozen reference never needs). Any other call goes to the forward it replaces."""
    fused = model.forward

    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kwargs):
        given = {name: value for name, value in kwargs.items() if value is not None}  # PEFT passes its Nones
        if not fused_lm_head or args or shift_labels is not None or labels is None or not set(given) <= _INPUTS:
            return fused(*args, fused_lm_head=fused_lm_head, labels=labels, shift_labels=shift_labels,
                         num_items_in_batch=num_items_in_batch, **kwargs)
        backbone = getattr(self, self.base_model_prefix)
        hidden, self.label_head_shared_prefix = backbone_states(backbone, given, share=share)
        targets = labels[:, 1:]
        mask = targets != -100
        logits = self.get_output_embeddings()(hidden[:, :-1][mask]).float()
        log_softmax = logits.log_softmax(-1)
        wanted = targets[mask]
        log_probs = log_softmax.gather(-1, wanted[:, None]).squeeze(-1)
        fields = {}
        if metrics:
            with torch.no_grad():  # the fields the trainers log
                probs = log_softmax.exp()
                fields = {"entropy": -(probs * log_softmax).sum(-1), "is_top1": logits.argmax(-1) == wanted,
                          "mean_logits": logits.mean(-1), "log_sum_sq_probs": torch.logsumexp(2 * log_softmax, -1)}

        def spread(values: torch.Tensor) -> torch.Tensor:  # zero at the positions that learn nothing
            return values.new_zeros(mask.shape).masked_scatter(mask, values)

        per_token = spread(log_probs)
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-per_token.sum() / count, log_probs=per_token, label_mask=mask,
                                   **{name: spread(values) for name, values in fields.items()})

    model.forward = types.MethodType(forward, model)
    model.label_head_shared_prefix = 0


class _CpuLabelHead:
    """A TRL trainer whose fused LM heads (the policy's, and the reference's where there is one) are label heads on
    a CPU, for models whose logits are the head's plain product (see the module)."""

    #: run the prefix all rows of a batch share once (False: each row whole, as before; for benchmarks)
    share_prefix = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if torch.cuda.is_available():
            return
        policy = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        for model, metrics in ((policy, True), (getattr(self, "ref_model", None), False)):
            if model is not None and plain_head(model):
                add_label_head(model, share=self.share_prefix, metrics=metrics)


class LabelHeadSFTTrainer(_CpuLabelHead, SFTTrainer):
    """TRL's SFTTrainer with the label head on a CPU."""


class LabelHeadDPOTrainer(_CpuLabelHead, DPOTrainer):
    """TRL's DPOTrainer with the label head on a CPU (the policy's and the frozen reference's)."""
