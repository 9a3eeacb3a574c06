"""Compiles the tfxgate pipeline for Kubeflow Pipelines 2, and optionally submits a run.

    python runner_kubeflow.py [--image IMAGE] [--pipeline-root gs://bucket/root] [--data-root URI]
                              [--serving-model-dir URI] [--beam-arg=ARG ...] [--resources TASK=CPU/CPU,GB/GB ...]
                              [--s3-endpoint URL [--s3-secret NAME[:ACCESS_KEY_KEY:SECRET_KEY_KEY]]]
                              [--output FILE.yaml]
                              [--submit --host URL [--experiment NAME] [--param NAME=VALUE ...]]

Writes a bare PipelineSpec (schemaVersion 2.1.0), checked as the backend checks it. Settings
also come from the environment: TFXGATE_IMAGE, TFXGATE_PIPELINE_ROOT, TFXGATE_DATA_ROOT,
TFXGATE_SERVING_MODEL_DIR, TFXGATE_S3_ENDPOINT, KFP_HOST. An s3:// root (MinIO, as Kubeflow
installs it) needs --s3-endpoint; the credentials reach the tasks from a Kubernetes secret the
spec names, never from the spec; a minio:// root is refused. The spec's run parameters (span,
train_steps, schema_version, drift_baseline, baseline_model) keep their defaults unless --param
sets them for the run --submit starts; drift_baseline `auto` (the default there) is the decision
of the newest run of the experiment whose gate accepted its data, `none` checks no drift;
baseline_model `auto` (the default there) is the model of the newest run whose Evaluator blessed
it, `none` judges the model by the floors only. Exit status: 0 done, 2 bad settings or a rejected
spec, 1 the submission failed.
"""

import argparse
import logging
import os
import sys
import warnings

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
from core.common.errors import UserError
from pipeline import config as config_lib
from pipeline import kfp_resources, kubeflow


def parse_args(argv):
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="Compile the tfxgate pipeline for Kubeflow Pipelines 2.",
        epilog="exit status: 0 done, 1 the submission failed, 2 bad settings or a rejected spec",
    )
    parser.add_argument("--image", default=env("TFXGATE_IMAGE", "tfxgate:latest"),
                        help="the container image every task runs (or TFXGATE_IMAGE)")
    parser.add_argument("--pipeline-root", default=env("TFXGATE_PIPELINE_ROOT", "gs://tfxgate/pipeline-root"),
                        help="where the tasks write artifacts (or TFXGATE_PIPELINE_ROOT)")
    parser.add_argument("--project", help="the project to compile (default: the folder you stand in when it holds "
                        "tfxgate.yaml, else the shipped example); its image is built with the Dockerfile's PROJECT")
    parser.add_argument("--data-root", default=env("TFXGATE_DATA_ROOT"),
                        help="train/span-N/ and serving/ data files, as the tasks see it (or TFXGATE_DATA_ROOT; "
                             f"default for the shipped example: {kubeflow.IMAGE_PROJECT_ROOT}/data)")
    parser.add_argument("--serving-model-dir", default=env("TFXGATE_SERVING_MODEL_DIR", "gs://tfxgate/serving_model"),
                        help="where Pusher puts the model (or TFXGATE_SERVING_MODEL_DIR)")
    parser.add_argument("--beam-arg", action="append", default=[], help="repeatable; e.g. --beam-arg=--runner=DataflowRunner")
    parser.add_argument("--resources", action="append", default=[], metavar="TASK=CPU/CPU,GB/GB",
                        help="repeatable; a task's CPU request/limit (cores) and memory request/limit (GB), "
                             "e.g. Trainer=2/4,8/16; replaces that task's default (see docs/kubeflow.md, Resources)")
    parser.add_argument("--s3-endpoint", default=env("TFXGATE_S3_ENDPOINT"),
                        help="for s3:// URIs: the S3 endpoint the tasks reach, e.g. http://minio-service.kubeflow:9000 "
                             "(or TFXGATE_S3_ENDPOINT)")
    parser.add_argument("--s3-secret", default=kubeflow.S3_SECRET, metavar="NAME[:ACCESS_KEY_KEY:SECRET_KEY_KEY]",
                        help="for s3:// URIs: the Kubernetes secret holding the credentials (default: "
                             f"{kubeflow.S3_SECRET}, keys {':'.join(kubeflow.S3_SECRET_KEYS)})")
    parser.add_argument("--output", help="the PipelineSpec YAML file to write (default: "
                        "<project>/outputs/kubeflow/<name>_pipeline.yaml)")
    parser.add_argument("--submit", action="store_true", help="upload the spec and start a run")
    parser.add_argument("--host", default=env("KFP_HOST"), help="the KFP API server, an http(s) URL (or KFP_HOST)")
    parser.add_argument("--experiment", help="the experiment the run goes into (default: the project's name)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="repeatable, with --submit: a run parameter: span (-1: the latest), train_steps, "
                             "schema_version (v<N>), drift_baseline (auto, none, or a gate decision URI), "
                             "baseline_model (auto, none, or a Trainer model URI)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        project = _project_defaults(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    problem = kubeflow.flag_problem(args.output, args.submit, args.host, args.param)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        resources = dict(kfp_resources.parse_resources(text) for text in args.resources)
        config = kubeflow.kubeflow_config(args.pipeline_root, args.data_root, args.serving_model_dir, args.beam_arg,
                                          project=project)
        s3 = kubeflow.S3Access(args.s3_endpoint, *kubeflow.parse_s3_secret(args.s3_secret)) if args.s3_endpoint else None
        if args.submit:  # every --param checked against the spec's run parameters before anything is written
            from pipeline import kfp_runs
            kfp_runs.check_arguments(config, args.param)
        kubeflow.compile_spec(config, args.image, args.output, resources, s3)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"tfxgate: wrote {args.output}")
    if "@sha256:" not in args.image:
        print(f"warning: --image {args.image} is a tag, not a digest: the backend's cache key holds the image "
              "string, so after the tag is pushed again cached tasks serve the old image's results "
              "(use REGISTRY/IMAGE@sha256:...)", file=sys.stderr)
    if args.submit:
        return submit(args)
    return 0


def _project_defaults(args):
    """The project (core/common/project.py) and what it decides of the arguments left unsaid."""
    from core.common import project as project_lib

    project = project_lib.resolve(args.project)
    if not args.data_root:
        if not project.is_shipped:
            raise UserError(f"--data-root: where the tasks read {project.name}'s spans (object storage, e.g. "
                            "s3://bucket/data); the image holds the project's files, not its data")
        args.data_root = f"{kubeflow.IMAGE_PROJECT_ROOT}/data"
    file_name = "tfxgate_pipeline.yaml" if project.is_shipped else f"{project.name}_pipeline.yaml"
    args.output = args.output or str(project.outputs / "kubeflow" / file_name)
    args.experiment = args.experiment or project.name
    args.logs = project.outputs / "logs"
    return project


def submit(args) -> int:
    import datetime

    from pipeline import kfp_runs
    from tfxgate.common import quiet

    logs = getattr(args, "logs", None) or config_lib.DEFAULT_OUTPUTS / "logs"  # the project's, once resolved
    log = str(logs / f"kubeflow-submit-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}.log")
    try:
        with quiet.library_noise_to(log):  # urllib3's retries and the KFP client's notices
            run_id, lines = kfp_runs.submit(args.output, args.host, args.experiment, args.pipeline_root, args.param)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except kfp_runs.SubmitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in lines:
        print(f"tfxgate: {line}")
    print(f"tfxgate: started run {run_id} in experiment {args.experiment} on {args.host}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
