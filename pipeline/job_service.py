"""Whether the Beam job service a run names answers, before anything runs.

A run given `--job_endpoint=HOST:PORT` (PortableRunner, and Flink or Spark job servers) waits for
that service as long as `--job_server_timeout`, which tfxgate sets to a day so that long jobs are
not cut off at Beam's one minute (pipeline/config.py). Asked here first, a service that does not
answer is one line within WAIT_S, not a run hanging for a day."""

from typing import Optional, Tuple

from core.common.errors import ConfigError

WAIT_S = 30.0
EMBEDDED = "embed"  # Beam's in-process job service: nothing to ask


def endpoint(beam_args: Tuple[str, ...]) -> Optional[str]:
    """The `--job_endpoint` these Beam arguments name (as Beam's parser reads them), or None."""
    if not any(a.startswith("--job_endpoint") or a.startswith("--job-endpoint") for a in beam_args):
        return None
    from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions

    return PipelineOptions(list(beam_args)).view_as(PortableOptions).job_endpoint


def check(beam_args: Tuple[str, ...], wait_s: Optional[float] = None) -> None:
    """Raises ConfigError when the job service named in `beam_args` does not answer within
    `wait_s` (default WAIT_S)."""
    wait_s = WAIT_S if wait_s is None else wait_s
    address = endpoint(beam_args)
    if not address or address == EMBEDDED:
        return
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=wait_s)
    except grpc.FutureTimeoutError:
        raise ConfigError(f"--job_endpoint={address}: no Beam job service answers there "
                          f"(waited {wait_s:.0f} s); start it, or run without --runner to use the DirectRunner") from None
    finally:
        channel.close()
