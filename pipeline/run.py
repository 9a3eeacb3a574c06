"""A LocalDagRunner whose run has a name the caller chose, so that the caller can read its own
run back from MLMD: a store shared by several pipelines holds other runs that started later.
Given a stage (pipeline/stages.py), it runs only that stage's nodes, under the same name as the
run's other stages."""

from typing import Collection, Optional

from tfx import v1 as tfx
from tfx.dsl.compiler import constants
from tfx.orchestration.portable import partial_run_utils, runtime_parameter_utils

from pipeline import stages


class NamedRunLocalDagRunner(tfx.orchestration.LocalDagRunner):
    """LocalDagRunner with `run_id` as the pipeline run's id (the `pipeline_run` context's name).

    LocalDagRunner sets the run id from the clock inside `run_with_ir`; substituting ours first
    leaves it nothing to substitute.

    With `stage`, a partial run of that stage's nodes less `finished` (the nodes this run already
    finished: a retried stage runs nothing twice). TFX's partial run marks the other nodes
    skipped. It would also "snapshot" (copy a base run's outputs into this run as cached
    executions), for runs whose earlier nodes ran under another id; here every stage shares
    one run id, so the earlier stages' outputs are this run's own and the inputs resolve as in a
    whole run: the snapshot is turned off, or it would record them a second time."""

    def __init__(self, run_id: str, stage: Optional[str] = None, finished: Collection[str] = ()):
        super().__init__()
        self.run_id = run_id
        self.stage = stage
        self.finished = set(finished)

    def run_with_ir(self, pipeline, run_options=None, **kwargs):
        runtime_parameter_utils.substitute_runtime_parameter(
            pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: self.run_id}
        )
        if self.stage is not None:
            _mark_stage(pipeline, self.stage, self.finished)
        return super().run_with_ir(pipeline, run_options=run_options, **kwargs)


def _mark_stage(pipeline, stage: str, finished: Collection[str]) -> None:
    """Marks the IR for a partial run of the stage's unfinished nodes, without a snapshot."""
    upstream = {node.pipeline_node.node_info.id: list(node.pipeline_node.upstream_nodes) for node in pipeline.nodes}
    wanted = stages.partition(upstream)[stage]
    to_run = [n for n in wanted if n not in finished]
    if not to_run:  # the whole stage finished in an earlier try: nothing runs
        for node in pipeline.nodes:
            node.pipeline_node.execution_options.skip.SetInParent()
        return
    partial_run_utils.mark_pipeline(pipeline, from_nodes=to_run, to_nodes=to_run)
    for node in pipeline.nodes:  # `run` and `skip` are a oneof: touch `run` only where it is set
        options = node.pipeline_node.execution_options
        if options.HasField("run"):
            options.run.perform_snapshot = False
