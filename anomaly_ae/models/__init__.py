"""Models: encoder/decoder networks and the LightningModule that trains and scores them."""

from anomaly_ae.models.autoencoder import ARCHITECTURES, AutoencoderModule
from anomaly_ae.models.mlp import Decoder, Encoder

__all__ = ["ARCHITECTURES", "AutoencoderModule", "Decoder", "Encoder"]
