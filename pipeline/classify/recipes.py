"""The recipe registry: coders by name, so that training, evaluation and the CLI share one list.

Register a new recipe with ``@register("name")`` on a factory ``(codebook, random_state) -> coder``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..codebook import Codebook
from .coders import MajorityCoder, RuleCoder, SupervisedCoder

_REGISTRY: dict[str, Callable] = {}


def register(name: str):
    def wrap(factory: Callable) -> Callable:
        _REGISTRY[name] = factory
        return factory
    return wrap


@register("majority")
def _majority(codebook: Codebook, random_state: int = 0):
    return MajorityCoder(codebook)


@register("rules")
def _rules(codebook: Codebook, random_state: int = 0):
    return RuleCoder(codebook)


@register("supervised")
def _supervised(codebook: Codebook, random_state: int = 0):
    return SupervisedCoder(codebook, use_cues=False, tune_thresholds=False, C=1.0, stance_C=None,
                           random_state=random_state)


@register("combined")
def _combined(codebook: Codebook, random_state: int = 0):
    return SupervisedCoder(codebook, use_cues=True, tune_thresholds=True, random_state=random_state)


SYNTHETIC_TRAINING = Path(__file__).resolve().parents[2] / "corpora" / "synthetic" / "training_sentences.jsonl"


@register("combined_synthetic")
def _combined_synthetic(codebook: Codebook, random_state: int = 0):
    """The combined recipe whose text models also learn from the sentences written for training."""
    return SupervisedCoder(codebook, use_cues=True, tune_thresholds=True, random_state=random_state,
                           extra_training=str(SYNTHETIC_TRAINING))


def recipes() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def make_coder(recipe: str, codebook: Codebook, random_state: int = 0):
    if recipe not in _REGISTRY:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {recipes()}")
    return _REGISTRY[recipe](codebook, random_state)


RECIPES = recipes()
