"""Installs tfxgate: the pipeline, its components, the model modules and the `tfxgate` command.

Dependencies are pinned in requirements/lock.txt (installed by `make`); install_requires names only
what the code imports directly, loosely, so that the lock stays the single source of versions.
"""

from setuptools import find_packages, setup

setup(
    name="tfxgate",
    version="0.1.0",
    description="A TFX pipeline that refuses to train or push on bad data, and says why.",
    python_requires=">=3.9,<3.11",
    packages=find_packages(include=["core", "core.*", "mlmd", "pipeline", "components", "components.*", "models", "tfxgate", "tfxgate.*"]),
    py_modules=["runner_local", "runner_kubeflow"],
    # The Transform and Trainer modules `tfxgate init` writes into a project (tfxgate/command/init.py).
    package_data={"tfxgate.command": ["templates/models/*.py"]},
    entry_points={"console_scripts": ["tfxgate=tfxgate.command.cli:main"]},
    install_requires=[
        "tfx[kfp]==1.16.0",
        "tensorflow-data-validation==1.16.1",
        "ml-metadata==1.16.0",
        "tf-keras",
    ],
)
