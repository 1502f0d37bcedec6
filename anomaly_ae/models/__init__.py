"""Models: encoder/decoder networks and the LightningModule that trains and scores them."""

from anomaly_ae.models.architectures import ARCHITECTURES, build_networks
from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.models.conv import ConvDecoder, ConvEncoder
from anomaly_ae.models.mlp import Decoder, Encoder

__all__ = [
    "ARCHITECTURES",
    "AutoencoderModule",
    "ConvDecoder",
    "ConvEncoder",
    "Decoder",
    "Encoder",
    "build_networks",
]
