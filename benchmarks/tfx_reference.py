"""TFX's own reference: the Chicago taxi pipeline with native Keras, as shipped in the tfx wheel
(`tfx/examples/chicago_taxi_pipeline/taxi_pipeline_native_keras.py`), run unchanged but for its
paths, on the same sample, with LocalDagRunner and SQLite MLMD.

    python -m benchmarks.tfx_reference WORK_DIR
"""

import os
import pathlib
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the example fails under Keras 3


def main(work: str) -> None:
    import tfx
    from tfx.examples.chicago_taxi_pipeline import taxi_pipeline_native_keras as taxi
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    example = pathlib.Path(tfx.__file__).parent / "examples" / "chicago_taxi_pipeline"
    root = pathlib.Path(work)
    LocalDagRunner().run(
        taxi._create_pipeline(  # pylint: disable=protected-access
            pipeline_name="chicago_taxi_native_keras",
            pipeline_root=str(root / "pipeline"),
            data_root=str(example / "data" / "simple"),
            module_file=str(example / "taxi_utils_native_keras.py"),
            serving_model_dir=str(root / "serving_model"),
            metadata_path=str(root / "metadata.sqlite"),
            beam_pipeline_args=["--direct_running_mode=multi_processing", "--direct_num_workers=0"],
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
