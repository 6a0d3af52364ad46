"""seq-JEPA (paper §1, §5.3): predict the EMA-encoder embedding of the next view from a transformer
aggregate of the observed views and the action that leads to it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqjepa_core.data.batch import SequenceBatch
from seqjepa_core.ema import ema_momentum, ema_update, make_target
from seqjepa_core.losses import negative_cosine_loss
from seqjepa_core.methods import register
from seqjepa_core.methods.base import Method, MethodParams, OptimDefaults, linear_bn


@dataclass(frozen=True)
class SeqJEPAParams(MethodParams):
    action_embed_dim: int = 128        # Table 4 ablates 16/64/128/256
    condition_transformer: bool = True  # tokens z_i ⊕ emb(a_i); Table 4 "no transformer conditioning" = False
    condition_predictor: bool = True    # predictor input z_AGG ⊕ emb(a_M); Table 4 "no predictor conditioning" = False
    num_layers: int = 3
    num_heads: int = 4
    dropout: float = 0.1                # nn.TransformerEncoderLayer's default, as in the official code
    predictor_hidden: int = 1024
    ema_base: float = 0.996
    # Official training order (the paper is silent): a_M goes through the action projector in a call of its
    # own, then a_1..a_M in a second call whose last slot is zeroed in the tokens. The projector's BatchNorm
    # thus normalises a_M with a_M's own batch statistics and updates its running statistics twice per
    # step. False: one call over a_1..a_M (BatchNorm statistics shared by tokens and predictor).
    target_action_own_call: bool = True


class Aggregator(nn.Module):
    """Post-norm transformer encoder with a final LayerNorm and no positional encoding.

    Attribute names mirror the released checkpoints (``transformer_encoder.transformer_encoder.layers.*``,
    ``transformer_encoder.norm``) so they load without a key map.
    """

    def __init__(self, dim: int, num_layers: int, num_heads: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(dim, num_heads, dim_feedforward=4 * dim, dropout=dropout,
                                           batch_first=True, norm_first=False)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.norm(self.transformer_encoder(tokens))


@register("seqjepa")
class SeqJEPA(Method):
    family = "invariant-equivariant"
    Params = SeqJEPAParams
    optim_defaults = OptimDefaults(name="adamw", lr=4e-4, weight_decay=1e-3, schedule="warmup_cosine")
    aggregates_sequences = True
    uses_actions = True
    predicts_embeddings = True

    def __init__(self, ctx, params: SeqJEPAParams):
        super().__init__(ctx, params)
        p, d, e = params, self.embed_dim, params.action_embed_dim
        if ctx.m_tr < 1:
            raise ValueError(f"seq-JEPA needs m_tr >= 1, got {ctx.m_tr}")
        self.target_encoder = make_target(self.encoder)
        # One action projector embeds both the tokens' and the predictor's actions.
        conditioned = p.condition_transformer or p.condition_predictor
        # No projector at all without conditioning: DDP rejects parameters that never get gradients.
        self.action_proj = linear_bn(ctx.action_dim, e) if conditioned else None
        self.token_dim = d + (e if p.condition_transformer else 0)
        if self.token_dim % p.num_heads:
            raise ValueError(f"token dim {self.token_dim} is not divisible by num_heads={p.num_heads}")
        self.agg_token = nn.Parameter(torch.zeros(1, 1, self.token_dim))
        self.transformer_encoder = Aggregator(self.token_dim, p.num_layers, p.num_heads, p.dropout)
        pred_in = self.token_dim + (e if p.condition_predictor else 0)
        self.predictor = nn.Sequential(nn.Linear(pred_in, p.predictor_hidden, bias=False),
                                       nn.BatchNorm1d(p.predictor_hidden), nn.ReLU(inplace=True),
                                       nn.Linear(p.predictor_hidden, d))

    @property
    def num_views(self) -> int:
        return self.ctx.m_tr + 1  # M observed views + the target view

    def embed_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """[B, K, A] -> [B, K, E]; BatchNorm statistics are taken over all B*K actions."""
        b, k, a = actions.shape
        if k == 0 or self.action_proj is None:
            return actions.new_zeros(b, 0, self.params.action_embed_dim)
        return self.action_proj(actions.reshape(b * k, a)).view(b, k, -1)

    def tokens(self, z: torch.Tensor, action_emb: torch.Tensor) -> torch.Tensor:
        """Tokens z_i ⊕ emb(a_i) for the M observed views; the last view's action slot is zero.

        ``z``: [B, M, D]; ``action_emb``: [B, M-1, E], the embedded actions between consecutive views.
        """
        if not self.params.condition_transformer:
            return z
        last = action_emb.new_zeros(z.shape[0], 1, action_emb.shape[-1])
        return torch.cat([z, torch.cat([action_emb, last], dim=1)], dim=-1)

    def aggregate_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prepend [AGG] and return its transformer output z_AGG [B, token_dim]."""
        agg = self.agg_token.expand(tokens.shape[0], -1, -1)
        return self.transformer_encoder(torch.cat([agg, tokens], dim=1))[:, 0]

    def aggregate_encoded(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.aggregate_tokens(self.tokens(z, self.embed_actions(actions)))

    def embed_training_actions(self, actions: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Embeddings of the tokens' actions a_1..a_{M-1} [B, M-1, E] and of a_M [B, E]; None when unused.

        ``actions``: [B, M, A], a_i takes view i to view i+1, so a_M leads to the target view M+1.
        """
        p, m = self.params, actions.shape[1]
        if not p.target_action_own_call:
            emb = self.embed_actions(actions)
            return emb[:, : m - 1], emb[:, m - 1]
        # Only the calls whose output is used: DDP rejects parameters that get no gradient.
        target_emb = self.embed_actions(actions[:, m - 1:])[:, 0] if p.condition_predictor else None
        token_emb = self.embed_actions(actions)[:, : m - 1] if p.condition_transformer else None
        return token_emb, target_emb

    def predictor_input(self, z: torch.Tensor, actions: torch.Tensor, zero_actions: bool = False) -> torch.Tensor:
        """z_AGG ⊕ emb(a_M) of encoded views ``z`` [B, M, D] and their M actions [B, M, A], the last one leading
        to the next, unseen view (without predictor conditioning: z_AGG alone). ``zero_actions``: every action
        embedding (the tokens' and a_M's) replaced by zeros: paper Fig. 6's blue curve (``seqjepa_core.path_integration``)."""
        token_emb, target_action_emb = self.embed_training_actions(actions)
        if zero_actions:
            token_emb, target_action_emb = (None if e is None else torch.zeros_like(e)
                                            for e in (token_emb, target_action_emb))
        z_agg = self.aggregate_tokens(self.tokens(z, token_emb))
        return torch.cat([z_agg, target_action_emb], -1) if self.params.condition_predictor else z_agg

    def retrieval_candidates(self, views: torch.Tensor) -> torch.Tensor:
        # the predictor is trained to match the EMA target encoder's embedding
        return self.target_encoder(views.flatten(0, 1)).view(*views.shape[:2], -1)

    def retrieval_prediction(self, z: torch.Tensor, actions: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.predictor(self.predictor_input(z, torch.cat([actions, action[:, None]], dim=1)))

    def training_loss(self, batch: SequenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = batch.num_views - 1
        z = self.encode_views(batch.views[:, :m])
        with torch.no_grad():
            target = self.target_encoder(batch.views[:, m])
        pred_in = self.predictor_input(z, batch.actions[:, :m])     # a_1..a_M, a_M leads to the target
        loss = negative_cosine_loss(self.predictor(pred_in), target)
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def after_optimizer_step(self, progress: float) -> None:
        ema_update(self.target_encoder, self.encoder, ema_momentum(progress, self.params.ema_base))
