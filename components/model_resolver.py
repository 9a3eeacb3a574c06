"""The baseline model of a local run: the latest blessed model of this pipeline but the candidate.

TFX's LatestBlessedModelStrategy resolves the latest blessed model whatever the run trained. On a
re-run with nothing changed the Trainer is cached, so its model is the one the first run blessed:
the Evaluator then gains a baseline it lacked (its inputs change, so its cache misses), judges
the model against itself and Pusher pushes it again. This strategy also takes this run's model
(`candidate`, an output channel scoped to this run) and never resolves it as its own baseline;
the Evaluator's inputs are then those of the run that trained the model, and the cache holds.
Local runs only: the open-source Kubeflow backend cannot run Resolver nodes.
"""

from typing import Dict, List, Optional

from tfx import types
from tfx import v1 as tfx
from tfx.components.evaluator import constants

CANDIDATE, MODEL, BLESSING = "candidate", "model", "model_blessing"


def latest_blessed(models: List[types.Artifact], blessings: List[types.Artifact],
                   excluding: set) -> Optional[tuple]:
    """(model, blessing) of the newest model with a positive blessing whose id is not in `excluding`."""
    blessed = {b.get_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY): b
               for b in sorted(blessings, key=lambda b: b.id)
               if b.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1}
    for model in sorted(models, key=lambda m: m.id, reverse=True):
        if model.id in blessed and model.id not in excluding:
            return model, blessed[model.id]
    return None


class LatestBlessedOtherModelStrategy(tfx.dsl.experimental.ResolverStrategy):
    """Inputs `candidate` (this run's model), `model` and `model_blessing` (all of the pipeline's);
    resolves `model` and `model_blessing` to the baseline, or to nothing for a first model."""

    def resolve_artifacts(
        self, store, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        candidate = input_dict.get(CANDIDATE) or []
        found = latest_blessed(input_dict.get(MODEL) or [], input_dict.get(BLESSING) or [],
                               excluding={m.id for m in candidate})
        model, blessing = found if found else (None, None)
        return {CANDIDATE: candidate, MODEL: [model] if model else [], BLESSING: [blessing] if blessing else []}
