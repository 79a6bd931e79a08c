"""Reading many local files in a parser process while this process talks to Kafka.

kafka-python and the parsers both need the interpreter lock; on a folder of thousands of
files a separate parser process (spawned via forkserver, never forked from a threaded
parent) keeps both cores busy.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from schemas.common import SourceInfo
from services.ingestor.adapters.base import Failure, ItemError
from services.ingestor.adapters.files import file_source, read_file
from services.ingestor.producer import Prepared, prepare

Job = tuple[str, str | None, int]
log = logging.getLogger(__name__)


def prepare_file(job: Job) -> list[Prepared | Failure]:
    """Every article of one file, fitted and validated; failures carry the path."""
    path_str, source_json, limit_bytes = job
    path = Path(path_str)
    source = SourceInfo.model_validate_json(source_json) if source_json else file_source(path)
    out: list[Prepared | Failure] = []
    for item in read_file(path, source=source):
        if isinstance(item, Failure):
            out.append(item)
            continue
        try:
            out.append(prepare(item, limit_bytes))
        except ItemError as exc:
            out.append(Failure(str(path), exc.reason, exc.error_type, key=item.article_id))
    return out


def prepare_files(
    paths: list[Path], source: SourceInfo | None, limit_bytes: int, workers: int
) -> Iterator[list[Prepared | Failure]]:
    """Results per file, in the order of `paths`. If the parser process cannot start or
    dies, the remaining files are read in this process: slower, never lost."""
    source_json = source.model_dump_json() if source else None
    jobs = [(str(p), source_json, limit_bytes) for p in paths]
    done = 0
    try:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for result in pool.map(prepare_file, jobs, chunksize=32):
                yield result
                done += 1
    except (BrokenProcessPool, OSError, RuntimeError) as exc:
        log.warning("parser process failed, reading in-process", extra={"error": repr(exc)})
        for job in jobs[done:]:
            yield prepare_file(job)
