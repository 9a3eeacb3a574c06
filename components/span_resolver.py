"""A resolver strategy that keeps the newest artifact of each span (local runs only: the
open-source Kubeflow backend cannot run Resolver nodes)."""

from typing import Dict, List, Optional

from tfx import types
from tfx import v1 as tfx


class LatestPerSpanStrategy(tfx.dsl.experimental.ResolverStrategy):
    """For each input, the newest artifact (highest id) of every span."""

    def resolve_artifacts(
        self, store, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        result = {}
        for key, artifacts in input_dict.items():
            newest: Dict[int, types.Artifact] = {}
            for artifact in artifacts:
                span = artifact.get_int_custom_property("span") if artifact.has_custom_property("span") else -1
                if span not in newest or artifact.id > newest[span].id:
                    newest[span] = artifact
            result[key] = [newest[s] for s in sorted(newest)]
        return result
