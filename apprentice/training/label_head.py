"""SFT's loss on a CPU: the LM head only at the positions that have a label, in one plain product.

TRL's SFTTrainer computes the loss with a fused LM head that projects the learned positions in tiles and computes
them again in the backward pass, to save a GPU's memory. On a CPU memory is not short, and that recomputation was
37% of an SFT step (profiled: ``benchmarks/results/round_time.txt``). Here the backbone's last hidden states at the
positions whose next token is learned (a quarter of a ReAct example's tokens) go through the LM head once, and
the loss is the same token-summed cross-entropy over the same count (TRL's ``num_items_in_batch``), with the
same mean token accuracy logged. On a GPU, or for a model that scales or caps its logits, TRL's path is kept.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from trl import SFTTrainer

__all__ = ["LabelHeadSFTTrainer", "plain_head"]

#: config fields of a model whose logits are not the plain product of the LM head (TRL's fused head knows them)
_SCALED = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def plain_head(model: Any) -> bool:
    """Whether the model's logits are its LM head's plain product (then the label head computes the same loss)."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return all(getattr(config, name, None) in (None, 1, 1.0) for name in _SCALED)


class LabelHeadSFTTrainer(SFTTrainer):
    """SFTTrainer whose training loss, on a CPU, projects only the learned positions (see the module)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        base = self.accelerator.unwrap_model(model)
        base = base.get_base_model() if hasattr(base, "get_base_model") else base
        if return_outputs or torch.cuda.is_available() or not plain_head(base) or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        backbone = getattr(base, base.base_model_prefix)
        hidden = backbone(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                          position_ids=inputs.get("position_ids"), use_cache=False).last_hidden_state
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
        self._metrics["train"]["mean_token_accuracy"].append(right)
        mask = inputs.get("attention_mask")
        self._total_train_tokens += int(mask.sum()) if mask is not None else inputs["input_ids"].numel()
        self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
        return loss
