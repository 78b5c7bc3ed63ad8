"""SFT's loss on a CPU: the LM head only at the positions that have a label, in one plain product.

TRL's SFTTrainer computes the loss with a fused LM head that projects the learned positions in tiles and computes
them again in the backward pass, to save a GPU's memory. On a CPU memory is not short, and that recomputation was
37% of an SFT step (profiled: ``benchmarks/results/round_time.txt``). Here the backbone's last hidden states at the
positions whose next token is learned (a quarter of a ReAct example's tokens) go through the LM head once, and
the loss is the same token-summed cross-entropy over the same count (TRL's ``num_items_in_batch``), with the
same mean token accuracy logged. The eval-loss pass (the loss only: best checkpoint, early stopping) takes the same
path. On a GPU, or for a model that scales or caps its logits, TRL's path is kept.

Every example of a round starts with the same system prompt (85 of a ReAct example's ~210 tokens), so the backbone
runs that shared prefix once per batch, not once per row: its keys and values are repeated across the batch and the
rest of each row attends to them as a cache. Gradients flow through the repeat into the one prefix pass, so the
loss and gradients are the same (to 1e-5, tested); a step is ~0.77x (``benchmarks/results/round_time.txt``).
Models with sliding-window or other non-global attention layers run every row whole.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from trl import SFTTrainer

__all__ = ["LabelHeadSFTTrainer", "plain_head", "shared_prefix"]

#: config fields of a model whose logits are not the plain product of the LM head (TRL's fused head knows them)
_SCALED = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def plain_head(model: Any) -> bool:
    """Whether the model's logits are its LM head's plain product (then the label head computes the same loss)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return all(getattr(config, name, None) in (None, 1, 1.0) for name in _SCALED)


#: a shared prefix shorter than this is not worth a second backbone call
MIN_SHARED_PREFIX = 16


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


class LabelHeadSFTTrainer(SFTTrainer):
    """SFTTrainer whose training loss, on a CPU, projects only the learned positions (see the module)."""

    #: run the prefix all rows of a batch share once (False: each row whole, as before; for benchmarks)
    share_prefix = True
    #: the prefix the last batch's rows shared and the backbone ran once (0: each row whole)
    shared_prefix_tokens = 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        base = self.accelerator.unwrap_model(model)
        base = base.get_base_model() if hasattr(base, "get_base_model") else base
        if return_outputs or torch.cuda.is_available() or not plain_head(base):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        backbone = getattr(base, base.base_model_prefix)
        hidden, self.shared_prefix_tokens = backbone_states(backbone, inputs, share=self.share_prefix)
        targets = inputs["labels"][:, 1:]
        learned = targets != -100
        logits = base.get_output_embeddings()(hidden[:, :-1][learned]).float()
        wanted = targets[learned]
        count = learned.sum() if num_items_in_batch is None else num_items_in_batch
        loss = F.cross_entropy(logits, wanted, reduction="sum") / torch.as_tensor(count).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        with torch.no_grad():
            right = (logits.argmax(-1) == wanted).float().mean().item() if len(wanted) else 0.0
        mode = "train" if model.training else "eval"
        self._metrics[mode]["mean_token_accuracy"].append(right)
        if mode == "train":
            mask = inputs.get("attention_mask")
            self._total_train_tokens += int(mask.sum()) if mask is not None else inputs["input_ids"].numel()
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
