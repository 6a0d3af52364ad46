from seqjepa_core.models.encoder import build_encoder, ResNet

__all__ = ["build_encoder", "ResNet"]
