"""Compiles the tfxgate pipeline into a KFP 2 PipelineSpec (schemaVersion 2.1.0) for Kubeflow.

    python runner_kubeflow.py [--image IMAGE] [--pipeline-root gs://...] [--output FILE]

Paths in the compiled spec are those inside the pipeline image (the project lives at /pipeline).
"""

import argparse
import os
import sys

import tfxgate  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from pipeline import config as config_lib

IMAGE_PROJECT_ROOT = "/pipeline"


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Compile the tfxgate pipeline for Kubeflow Pipelines 2.")
    parser.add_argument("--image", default=os.environ.get("TFXGATE_IMAGE", "tfxgate:latest"))
    parser.add_argument("--pipeline-root", default=os.environ.get("TFXGATE_PIPELINE_ROOT", "gs://tfxgate/pipeline"))
    parser.add_argument("--data-root", default=os.environ.get("TFXGATE_DATA_ROOT", f"{IMAGE_PROJECT_ROOT}/data"))
    parser.add_argument("--serving-model-dir", default=os.environ.get("TFXGATE_SERVING_MODEL_DIR", "gs://tfxgate/serving_model"))
    parser.add_argument("--output", default=str(config_lib.DEFAULT_OUTPUTS / "kubeflow" / "tfxgate_pipeline.yaml"))
    parser.add_argument("--beam-arg", action="append", default=[])
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.output.endswith(".yaml"):
        print("error: --output must end in .yaml (a KFP 2 backend takes only a bare YAML PipelineSpec)", file=sys.stderr)
        return 2
    config = config_lib.PipelineConfig(
        pipeline_root=args.pipeline_root,
        data_root=args.data_root,
        schema_path=f"{IMAGE_PROJECT_ROOT}/schema/{config_lib.schema_version_of(config_lib.latest_schema_path())}/schema.pbtxt",
        serving_model_dir=args.serving_model_dir,
        metadata_path=None,  # Kubeflow's own metadata service
        installed_functions=True,  # the image has the project installed; no wheel to stage
        policy_json=config_lib.read_policy(),
        drift_against_previous_span=False,  # the open-source KFP backend cannot run Resolver nodes
        beam_pipeline_args=config_lib.beam_args_for(tuple(args.beam_arg)),
    )
    from tfx import v1 as tfx
    from pipeline.pipeline import create_pipeline

    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image, use_pipeline_spec_2_1=True),
        output_dir=os.path.dirname(os.path.abspath(args.output)),
        output_filename=os.path.basename(args.output),
    )
    runner.run(create_pipeline(config), write_out=True)
    print(f"tfxgate: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
