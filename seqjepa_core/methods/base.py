"""The method interface every pretraining method implements, and the pieces they share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.models.encoder import build_encoder


@dataclass(frozen=True)
class MethodContext:
    """What a method needs to know about the experiment to build itself."""

    action_dim: int               # size of one action vector (4: rotation quaternion, 6: + colour, ...)
    encoder_width: int = 64       # 64 = the paper's ResNet-18 (512-d output)
    cifar_stem: bool = False
    m_tr: int = 1                 # observed views per training sequence (seq-JEPA); pair methods ignore it


@dataclass(frozen=True)
class MethodParams:
    """Base of each method's own hyper-parameters; subclasses add fields with the paper's defaults."""


@dataclass(frozen=True)
class ProjectorChoice(MethodParams):
    """Mixed into the Params of baselines whose projector Table 8 swaps for a transformer."""

    projector: str = "mlp"  # "mlp" (App. A.3) | "transformer" (Table 8's "+" rows)

    def __post_init__(self):
        if self.projector not in PROJECTORS:
            raise ValueError(f"projector: {self.projector!r} is not one of {sorted(PROJECTORS)}")


@dataclass(frozen=True)
class OptimDefaults:
    """The optimiser a method trains with unless the config overrides it (paper §5.4)."""

    name: str = "adam"            # "adam" | "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"    # "constant" | "warmup_cosine"


# ConvNet baselines with MLP heads: Adam, lr 1e-3, no weight decay, constant lr (paper §5.4).
MLP_HEAD_OPTIM = OptimDefaults(name="adam", lr=1e-3, weight_decay=0.0, schedule="constant")


class Method(nn.Module):
    """A self-supervised method: an online ``encoder`` plus whatever heads its loss needs.

    Subclasses set the class attributes, define ``Params`` and implement ``training_loss``.
    Probes use only ``encoder`` (and ``aggregate`` when ``aggregates_sequences``): no probe code lives here.
    """

    name: ClassVar[str]
    family: ClassVar[str]                      # "invariant" | "equivariant" | "invariant-equivariant"
    Params: ClassVar[type[MethodParams]] = MethodParams
    optim_defaults: ClassVar[OptimDefaults] = OptimDefaults()
    aggregates_sequences: ClassVar[bool] = False
    uses_actions: ClassVar[bool] = False       # trained with the ground-truth transformations
    predicts_embeddings: ClassVar[bool] = False  # has an action-conditioned predictor (retrieval, Table 10)

    def __init__(self, ctx: MethodContext, params: MethodParams):
        super().__init__()
        self.ctx, self.params = ctx, params
        self.encoder = build_encoder(width=ctx.encoder_width, cifar_stem=ctx.cifar_stem)
        self.embed_dim = self.encoder.out_dim

    @property
    def num_views(self) -> int:
        """Views per training sample the data loader must provide."""
        return 2

    def forward(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # DistributedDataParallel synchronises gradients of what runs through forward().
        return self.training_loss(batch)

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    @torch.no_grad()
    def after_optimizer_step(self, progress: float) -> None:
        """Hook after each optimiser step; ``progress`` = finished steps / total steps (EMA updates)."""

    def aggregate(self, views: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """z_AGG of ``views`` [B, M, C, H, W] with ``actions`` [B, M-1, A]; only for sequence methods."""
        return self.aggregate_encoded(self.encode_views(views), actions)

    def aggregate_encoded(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """z_AGG from already encoded views ``z`` [B, M, D] (probes encode each view once for all M_val)."""
        raise NotImplementedError(f"{self.name} does not aggregate sequences")

    def retrieval_candidates(self, views: torch.Tensor) -> torch.Tensor:
        """Embeddings the predictor's output is compared with, of ``views`` [B, V, C, H, W] -> [B, V, P]."""
        raise NotImplementedError(f"{self.name} has no predictor")

    def retrieval_prediction(self, z: torch.Tensor, actions: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Predicted embedding [B, P] of the view that ``action`` [B, A] leads to from the last of the observed,
        encoded views ``z`` [B, M, D] (``actions`` [B, M-1, A] between them)."""
        raise NotImplementedError(f"{self.name} has no predictor")

    def encode_views(self, views: torch.Tensor) -> torch.Tensor:
        """Online-encoder outputs of every view: [B, V, C, H, W] -> [B, V, D]."""
        b, v = views.shape[:2]
        x = views.flatten(0, 1)
        if x.is_cuda:  # NHWC convolutions are the fast path for cuDNN with bf16
            x = x.contiguous(memory_format=torch.channels_last)
        return self.encoder(x).view(b, v, -1)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on weights only; biases, norms and learned tokens get none (paper §5.4)."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or name.endswith("_token") else decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]


def parse_params(cls: type[Method], raw: dict | None, where: str) -> MethodParams:
    """Build ``cls.Params`` from a config mapping; unknown keys are an error naming ``where``."""
    raw = dict(raw or {})
    fields = {f.name for f in dataclasses.fields(cls.Params)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise KeyError(f"{where}: unknown parameter(s) {unknown} for method {cls.name!r}; "
                       f"valid: {sorted(fields)}")
    try:
        return cls.Params(**raw)
    except ValueError as err:
        raise ValueError(f"{where}.{err}") from None


def mlp(dims: list[int], batch_norm: bool = True, last_bias: bool = True) -> nn.Sequential:
    """Linear-(BN)-ReLU stack; the last layer is a plain Linear (projectors, predictors)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 2):
        layers += [nn.Linear(dims[i], dims[i + 1], bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(dims[i + 1]))
        layers.append(nn.ReLU(inplace=True))
    layers.append(nn.Linear(dims[-2], dims[-1], bias=last_bias))
    return nn.Sequential(*layers)


def linear_bn(d_in: int, d_out: int) -> nn.Sequential:
    """Bias-free Linear + non-affine BatchNorm: the action projectors (and SEN/EquiMod's linear
    predictors); module indices 0/1 match the released checkpoints' ``action_proj``."""
    return nn.Sequential(nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out, affine=False))


def bn_projector(dims: list[int]) -> nn.Sequential:
    """MLP projector whose output goes through a non-affine BatchNorm (official code's projectors)."""
    return projector_head("mlp", dims, out_bn=True)


class TransformerProjector(nn.Module):
    """Table 8's transformer projector: the encoder output as a sequence of length 1 through a transformer
    of seq-JEPA's aggregator shape (3 post-norm layers, 4 heads, FFN 4x, dropout 0.1, final LayerNorm),
    then a linear map to the width the MLP projector had, so the method's loss is unchanged."""

    def __init__(self, d_in: int, d_out: int, num_layers: int = 3, num_heads: int = 4, dropout: float = 0.1):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_in, num_heads, dim_feedforward=4 * d_in, dropout=dropout,
                                           batch_first=True, norm_first=False)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_in)
        self.out = nn.Linear(d_in, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.transformer(x.unsqueeze(1)))[:, 0])


PROJECTORS = {
    "mlp": lambda dims: mlp(dims, last_bias=False),
    "transformer": lambda dims: TransformerProjector(dims[0], dims[-1]),
}


def projector_head(kind: str, dims: list[int], out_bn: bool) -> nn.Module:
    """The baselines' projector from the encoder width ``dims[0]`` to ``dims[-1]``; ``out_bn`` adds the
    official code's non-affine BatchNorm on the output (whatever the projector's kind)."""
    head = PROJECTORS[kind](dims)
    return nn.Sequential(head, nn.BatchNorm1d(dims[-1], affine=False)) if out_bn else head
