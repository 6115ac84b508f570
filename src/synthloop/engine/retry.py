"""`synthloop run --retry-failed`: fetch again the URLs that failed in a finished run, and merge them in.

The shards whose download part (`engine.download`) holds a failure are reopened: their stage-0
files are removed, and everything that depends on all shards (the global ops' resolutions, the
later stages, the output parts that came from them) with them. The run then resumes: the reopened
shards fetch their failed URLs again, reuse the bytes of the others, and rebuild their samples,
so the output equals that of a run where those URLs had answered the first time. The shards to
retry are recorded in `stages/retry.json` before anything is removed, so a retry that is killed
continues with `--resume` (or a second `--retry-failed`) where it stopped.
"""

from __future__ import annotations

from synthloop.engine.download import failed_urls
from synthloop.engine.plan import Stage
from synthloop.engine.rundir import RunDir, RunDirError, read_json, write_json
from synthloop.storage import Location


def retry_marker(rundir: RunDir) -> Location:
    return rundir.root / "stages" / "retry.json"


def retry_shards(rundir: RunDir) -> set[int]:
    """The shards a retry under way fetches again (empty when no retry is under way)."""
    marker = retry_marker(rundir)
    return set(read_json(marker)["shards"]) if marker.exists() else set()


def start_retry(rundir: RunDir, stages: list[Stage]) -> set[int]:
    """Reopen the shards with failed URLs of the finished run in `rundir`; returns them."""
    marker = retry_marker(rundir)
    if not marker.exists():
        if not rundir.ledger_file.exists() or not rundir.input_marker.exists():
            raise RunDirError(f"{rundir.root} holds no finished run: --retry-failed fetches again the failed URLs "
                              "of a finished run (continue an unfinished one with --resume)")
        shard_count = read_json(rundir.input_marker)["shards"]
        shards = [j for j in range(shard_count) if failed_urls(rundir.download_part(j))]
        write_json(marker, {"shards": shards, "reopened": False})
    state = read_json(marker)
    if not state["reopened"]:
        _reopen(rundir, state["shards"], stages)
        write_json(marker, {**state, "reopened": True})
    rundir.ledger_file.unlink()
    return set(state["shards"])


def finish_retry(rundir: RunDir) -> None:
    retry_marker(rundir).unlink()


def _reopen(rundir: RunDir, shards: list[int], stages: list[Stage]) -> None:
    if not shards:
        return
    for j in shards:
        for part in (rundir.done_marker(0, j), rundir.data_part(0, j), rundir.dropped_part(0, j),
                     rundir.quarantine_part(0, j), rundir.output_part(j)):
            part.unlink()
    rundir.resolved_marker(0).unlink()
    for folder in ("removed", "merged"):
        (rundir.stage(0) / folder).remove_tree()
    for stage in stages[1:]:
        rundir.stage(stage.index).remove_tree()
        for folder in (rundir.dropped, rundir.quarantine):
            for part in folder.files(".parquet", recursive=False):
                if part.name.startswith(f"part-s{stage.index}-"):
                    part.unlink()
    if len(stages) > 1:  # the output parts came from the last stage, which depends on every shard
        for part in rundir.output.files(".parquet", recursive=False):
            if part.name.startswith("part-"):
                part.unlink()
