"""Studies in Optuna's storage: where the trials of a search (reprolab/experiments/search.py) and the
seeds of a seed run (reprolab/experiments/seeds.py) are kept, so that any number of workers share them.

A worker is a process in a clone of the repository, on any machine that reaches the
storage (and, to share its experiments, the git remote and the DVC remote). It takes
trials until the study has as many complete ones as it wants, one at a time, each under a
heartbeat: a trial whose worker falls silent (killed, its machine lost) for GRACE seconds
is failed by the next worker that looks (every worker looks each HEARTBEAT seconds) and
queued again as a new trial with the same params, which the next free worker takes.

The storage is a SQLAlchemy URL: `postgresql+psycopg://USER@HOST/DB` for many machines
(the password from PGPASSWORD or ~/.pgpass, never in the URL: a URL that holds one is
shown as `USER:***@HOST`), and by default the SQLite file DEFAULT (git-ignored), so that
one machine's search, cut short, goes on where it stopped when started again.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from reprolab.core.errors import UserError

DEFAULT = Path(".dvc/tmp/studies.db")  # .dvc/tmp is git-ignored
STORAGE_ENV = "REPROLAB_STORAGE"  # the storage, where --storage is not given (make ... STORAGE=URL sets it)
HEARTBEAT = 20  # seconds between a running trial's heartbeats, and between a worker's looks for silent ones
GRACE_BEATS = 3  # a trial silent for this many heartbeats is failed and queued again
READY_SECONDS = 60  # how long a worker waits for the study's creator to finish setting it up
POLL_SECONDS = 2


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of at least 1")
    return int(text)


def seed(text: str) -> int:
    """An argparse type: a seed numpy takes, 0 to 2**32 - 1."""
    if not text.strip().isdigit() or int(text) >= 2**32:
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is a whole number from 0 to 2**32 - 1")
    return int(text)


def add_arguments(parser) -> None:
    """--storage, --remote and --heartbeat, as the search and the seed run take them."""
    parser.add_argument(
        "--storage",
        default=os.environ.get(STORAGE_ENV) or None,
        help=f"the study's database, a SQLAlchemy URL (default: ${STORAGE_ENV}, else sqlite:///{DEFAULT})",
    )
    parser.add_argument("--remote", help="git remote of dvc exp push and pull (default: origin, with --storage)")
    parser.add_argument("--heartbeat", type=int, default=HEARTBEAT, help="seconds (default: %(default)s)")


def remote(args) -> str | None:
    """The git remote a worker shares its experiments through: none on the embedded default."""
    return args.remote or ("origin" if args.storage else None)


def masked(url: str) -> str:
    """The URL with its password (if any) as ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: show only its scheme
        return url.split(":", 1)[0] + ":..."


class StorageError(UserError):
    pass


def _reason(err: BaseException, url: str) -> str:
    """The first line of a database error, with the URL's password masked."""
    from sqlalchemy.engine import make_url

    text = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(password, "***") if password else text


def _url(url: str | None) -> str:
    return url or f"sqlite:///{DEFAULT}"


def _said(url: str | None, err: BaseException) -> StorageError:
    """One line for a database error: the storage (its password masked) and what went wrong."""
    return StorageError(f"the study storage {masked(_url(url))}: {_reason(err, _url(url))}")


def storage(url: str | None, heartbeat: int = HEARTBEAT):
    """Optuna's RDB storage at `url` (default: the SQLite file DEFAULT), with heartbeats and
    the retry of a trial whose worker fell silent."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats: stable for years
    if url is None:
        DEFAULT.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        try:
            return optuna.storages.RDBStorage(
                _url(url),
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=heartbeat,
                grace_period=GRACE_BEATS * heartbeat,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
        except Exception as err:  # an unreachable database, a wrong password, a URL without a driver
            lost = _lost(err)
            if isinstance(lost, IntegrityError | ProgrammingError) and attempt < 4:
                attempt += 1
                time.sleep(attempt)  # workers started at once on a new database all create its tables
                continue
            raise _said(url, lost or err) from None


def _lost(err: BaseException | None) -> BaseException | None:
    """The database error behind `err`, if one is: SQLAlchemy's, or Optuna's wrapping of it
    (which Optuna may mask with an error of its own while it handles it)."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    found: BaseException | None = None
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, SQLAlchemyError):
            return err
        if isinstance(err, StorageInternalError):
            found = err
        err = err.__cause__ or err.__context__
    return found


def guarded_storage(url: str | None, work: Callable[[], Any]) -> Any:
    """`work`, with a lost database said in one line (the URL masked)."""
    try:
        return work()
    except Exception as err:
        lost = _lost(err)
        if lost is None:
            raise
        raise _said(url, lost) from None


def open_study(
    name: str,
    store,
    direction: Literal["minimize", "maximize"],
    config: dict[str, Any],
    setup: Callable[[Any], None],
    sampler=None,
):
    """The study `name` in `store`: created (its config stored, then `setup(study)`, e.g. the
    grid's trials queued) by the first worker, loaded by the others once it is ready. A study
    of that name whose direction or config differs from `config` is refused."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    wanted = json.loads(json.dumps(config, sort_keys=True))
    try:
        study = optuna.create_study(study_name=name, storage=store, direction=direction, sampler=sampler)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=store, sampler=sampler)
    else:
        study.set_user_attr("config", wanted)
        setup(study)
        study.set_user_attr("ready", True)
    deadline = time.monotonic() + READY_SECONDS
    while not study.user_attrs.get("ready"):
        if time.monotonic() > deadline:
            raise UserError(f"study {name}: its creator never finished setting it up (delete it, start again)")
        time.sleep(POLL_SECONDS)
    if study.direction.name.lower() != direction:
        raise UserError(f"study {name}: stored to {study.direction.name.lower()}, asked to {direction}")
    stored = study.user_attrs.get("config")
    if stored != wanted:
        differ = sorted(k for k in set(stored or {}) | set(wanted) if (stored or {}).get(k) != wanted.get(k))
        raise UserError(f"study {name}: its stored {', '.join(differ)} differ from this one's (another search?)")
    return study


def stamp() -> str:
    """A new study's part of its experiments' names: the time, and a random tag, since a study
    made again under its name (a repeated seed run) may start within the same second."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def counts(study) -> dict[str, int]:
    """How many of the study's trials are in each state (complete, running, waiting, ...)."""
    found: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        found[trial.state.name.lower()] = found.get(trial.state.name.lower(), 0) + 1
    return found


def work(study, wanted: int, objective: Callable[[Any], float], heartbeat: int = HEARTBEAT, catch: tuple = ()) -> None:
    """Take trials of `study`, one at a time, until it has `wanted` complete ones. Trials
    already running elsewhere count: while they could still make up the number, this worker
    waits for them (one of them may fail and come back). Two workers that start a trial at
    once, with one trial to go, are told apart by trial number: the later is pruned unrun."""
    import optuna
    from optuna.trial import TrialState

    def checked(trial) -> float:
        ahead = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        if sum(t.number < trial.number for t in ahead) >= wanted:
            raise optuna.TrialPruned("not run: the study had its trials")
        return objective(trial)

    stop = threading.Event()

    def watch() -> None:  # a trial whose worker died is failed (and queued again) even while this one works
        while not stop.wait(heartbeat):
            try:
                optuna.storages.fail_stale_trials(study)
            except Exception:  # the database is gone: the main loop says so
                return

    def quiet(args) -> None:  # a heartbeat's lost database: the main loop says it, in one line
        if _lost(args.exc_value) is None:
            excepthook(args)

    excepthook, threading.excepthook = threading.excepthook, quiet
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        while True:
            optuna.storages.fail_stale_trials(study)
            found = counts(study)
            if found.get("complete", 0) >= wanted:
                return
            if found.get("waiting", 0) or found.get("complete", 0) + found.get("running", 0) < wanted:
                study.optimize(checked, n_trials=1, catch=catch)  # heartbeats run under optimize only
            else:
                time.sleep(POLL_SECONDS)
    finally:
        stop.set()
        threading.excepthook = excepthook
