"""Turn split rows into tensors, with every statistic fit on the training split only
(reprolab/data/features/)."""

from reprolab.cli import run
from reprolab.data.features import featurize

if __name__ == "__main__":
    run(featurize)
