"""`python -m ibhfn.train` and `torchrun --nproc-per-node N -m ibhfn.train ...`: the `ibhfn-train` CLI."""

from ibhfn.train.cli import main

main()
