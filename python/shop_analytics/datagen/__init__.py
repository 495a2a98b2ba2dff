"""Synthetic, deterministic, vectorized commerce event generator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shop_analytics.datagen.config import GeneratorConfig
    from shop_analytics.datagen.generator import generate, read_manifest

__all__ = ["GeneratorConfig", "generate", "read_manifest"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI imports datagen.config to build its parser without loading NumPy and Arrow.
    if name == "GeneratorConfig":
        from shop_analytics.datagen.config import GeneratorConfig

        return GeneratorConfig
    if name in ("generate", "read_manifest"):
        from shop_analytics.datagen import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
