"""A LocalDagRunner whose run has a name the caller chose, so that the caller can read its own
run back from MLMD: a store shared by several pipelines holds other runs that started later."""

from tfx import v1 as tfx
from tfx.dsl.compiler import constants
from tfx.orchestration.portable import runtime_parameter_utils


class NamedRunLocalDagRunner(tfx.orchestration.LocalDagRunner):
    """LocalDagRunner with `run_id` as the pipeline run's id (the `pipeline_run` context's name).

    LocalDagRunner sets the run id from the clock inside `run_with_ir`; substituting ours first
    leaves it nothing to substitute."""

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def run_with_ir(self, pipeline, run_options=None, **kwargs):
        runtime_parameter_utils.substitute_runtime_parameter(
            pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: self.run_id}
        )
        return super().run_with_ir(pipeline, run_options=run_options, **kwargs)
