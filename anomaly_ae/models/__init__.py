"""Models: encoder/decoder networks and the LightningModule that trains and scores them."""

from anomaly_ae.models.autoencoder import AutoencoderModule
from anomaly_ae.models.conv import ConvAutoencoder, ConvDecoder, ConvEncoder
from anomaly_ae.models.lenet import LeNetAutoencoder
from anomaly_ae.models.mlp import Decoder, Encoder, MlpAutoencoder
from anomaly_ae.models.nets import build_net

__all__ = [
    "AutoencoderModule",
    "ConvAutoencoder",
    "ConvDecoder",
    "ConvEncoder",
    "Decoder",
    "Encoder",
    "LeNetAutoencoder",
    "MlpAutoencoder",
    "build_net",
]
