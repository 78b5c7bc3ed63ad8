"""Merge a LoRA student into its base GGUF so llama.cpp serves it at the base model's speed.

The HF base was made by dequantizing the GGUF, so base weights == dequant(GGUF) exactly. We
merge the adapter in transformers (``merge_and_unload``), map each changed HF weight back to its
GGUF tensor name (re-applying llama.cpp's q/k head permutation), quantize it to Q8_0, and copy
every other tensor and all metadata (tokenizer, chat template) from the original file untouched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from apprentice.errors import ModelUnavailableError

__all__ = ["hf_to_gguf_name", "export_merged_gguf"]

_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)\.weight$")
_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}
_GLOBAL = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight"}


def hf_to_gguf_name(name: str) -> str | None:
    """GGUF tensor name of a Llama-architecture HF weight (None if it has no counterpart)."""
    if name in _GLOBAL:
        return _GLOBAL[name]
    match = _LAYER.match(name)
    if match and match.group(2) in _NAMES:
        return f"blk.{match.group(1)}.{_NAMES[match.group(2)]}.weight"
    return None


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's rotary permutation of q/k rows (the inverse of transformers' reverse_permute)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _changed_tensors(merged: Any, base_names: set[str], config: Any) -> dict[str, np.ndarray]:
    """GGUF name -> new float32 weights, for every LoRA-merged linear layer."""
    out = {}
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    for name, tensor in merged.state_dict().items():
        gguf_name = hf_to_gguf_name(name)
        if gguf_name is None or gguf_name not in base_names or tensor.ndim != 2 or "token_embd" in gguf_name:
            continue
        data = tensor.detach().float().cpu().numpy()
        if gguf_name.endswith("attn_q.weight"):
            data = _permute(data, heads, heads)
        elif gguf_name.endswith("attn_k.weight"):
            data = _permute(data, heads, kv_heads)
        out[gguf_name] = np.ascontiguousarray(data, dtype=np.float32)
    return out


def export_merged_gguf(base_gguf: Path, merged_model: Any, target: Path, *, only: set[str] | None = None) -> Path:
    """Write ``target``: ``base_gguf`` with the merged model's changed linear weights in Q8_0.

    Args:
        base_gguf: the GGUF the HF base was converted from.
        merged_model: the HF model after ``merge_and_unload()``.
        target: the GGUF file to write.
        only: restrict to these GGUF tensor names (default: every LoRA target found).
    """
    import gguf

    reader = gguf.GGUFReader(base_gguf)
    arch = reader.fields["general.architecture"].contents()
    if arch != "llama":
        raise ModelUnavailableError(f"GGUF export supports the llama architecture only (got {arch})")
    names = {t.name for t in reader.tensors}
    changed = _changed_tensors(merged_model, names, merged_model.config)
    if only is not None:
        changed = {k: v for k, v in changed.items() if k in only}
    writer = gguf.GGUFWriter(str(target), arch)
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    payloads = []
    for tensor in reader.tensors:
        if tensor.name in changed:
            data = changed[tensor.name]
            q8 = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor_info(tensor.name, q8.shape, q8.dtype, q8.nbytes, gguf.GGMLQuantizationType.Q8_0)
            payloads.append(q8)
        else:
            writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                                   tensor.tensor_type)
            payloads.append(tensor.data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for data in payloads:
        writer.write_tensor_data(data)
    writer.close()
    return target
