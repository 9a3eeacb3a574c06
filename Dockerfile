# The tfxgate pipeline image for Kubeflow Pipelines 2. Every task of the compiled spec runs
# `python -m pipeline.kfp_entrypoint` (TFX's kubeflow_v2_run_executor, given back the input
# artifact types the open-source backend drops) in it, with the
# project installed at /pipeline (runner_kubeflow.py's IMAGE_PROJECT_ROOT): the curated schema at
# /pipeline/schema/vN/schema.pbtxt, the sample data at /pipeline/data, and the Transform and
# Trainer functions importable as models.preprocessing.preprocessing_fn and models.model.run_fn.
#
#   docker build -t REGISTRY/tfxgate:TAG .
FROM python:3.10-slim

ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /pipeline

# The locked stack first: this layer is rebuilt only when the lock changes.
COPY requirements/lock.txt requirements/lock.txt
RUN pip install uv && uv pip install --system --no-cache -r requirements/lock.txt

COPY setup.py runner_local.py runner_kubeflow.py ./
COPY core/ core/
COPY mlmd/ mlmd/
COPY pipeline/ pipeline/
COPY components/ components/
COPY models/ models/
COPY tfxgate/ tfxgate/
COPY schema/ schema/
COPY data/ data/
RUN pip install --no-deps -e .
