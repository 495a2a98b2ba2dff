"""Synthetic, deterministic, vectorized commerce event generator."""

from shop_analytics.datagen.config import GeneratorConfig
from shop_analytics.datagen.generator import generate, read_manifest

__all__ = ["GeneratorConfig", "generate", "read_manifest"]
