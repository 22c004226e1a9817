"""`prepare_products`: several Level-1C products stacked into one output folder, each failing alone.

The request (scene name, resampling, compression, the output folder) is checked before any product
is read; after that a product that cannot be read or written is an outcome with its one-line error,
and the next product goes on. The work on each product is `open_l1c` and `stack_l1c`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ibhfn.errors import IbhfnError, InputError
from ibhfn.output_folder import check_output_folder
from ibhfn.runtime.l1c_product import L1CProduct, looks_like_product, open_l1c
from ibhfn.runtime.pairing import plain_name
from ibhfn.runtime.s2_stack import check_resampling, stack_l1c
from ibhfn.runtime.writer import COMPRESSIONS


@dataclass(frozen=True)
class PreparedProduct:
    """What became of one product: its stacked file, or the one line that says why there is none."""

    path: Path  # the product as given (.SAFE folder or .zip)
    output: Path | None  # <name>_s2.tif; None when the product failed
    product: L1CProduct | None  # what its metadata say; None when it could not be opened
    error: str | None  # one line naming the file, when it failed
    seconds: float


def check_products_request(
    products: Sequence[Path],
    out_dir: Path,
    *,
    name: str | None = None,
    resampling: str = "nearest",
    compress: str = "deflate",
) -> None:
    """Refuse, with one line, a request that cannot work for any product, before any is read."""
    if not products:
        raise InputError("give one or more products, then the output folder")
    if name is not None and len(products) > 1:
        raise InputError(f"--name names one scene; {len(products)} products were given")
    if name is not None and not plain_name(name):
        raise InputError(f"--name {name!r}: a scene name is a file name, without folders")
    if compress not in COMPRESSIONS:
        raise InputError(f"unknown compression {compress!r}; choose one of {', '.join(COMPRESSIONS)}")
    check_resampling(resampling)
    if looks_like_product(out_dir):
        raise InputError(f"{out_dir}: a product, not the output folder, which comes last")
    check_output_folder(out_dir)


def prepare_products(
    products: Sequence[Path],
    out_dir: Path,
    *,
    name: str | None = None,
    resampling: str = "nearest",
    compress: str = "deflate",
    done: Callable[[PreparedProduct], None] | None = None,
) -> list[PreparedProduct]:
    """Stack each product's 13 bands onto its 10 m grid as `out_dir/<name>_s2.tif` (`name` for a single
    product, else each product's own); `done` hears of each product as it finishes."""
    check_products_request(products, out_dir, name=name, resampling=resampling, compress=compress)
    outcomes: list[PreparedProduct] = []
    written: dict[Path, Path] = {}
    for path in map(Path, products):
        started = time.perf_counter()
        product: L1CProduct | None = None
        try:
            product = open_l1c(path)
            output = out_dir / f"{name or product.name}_s2.tif"
            if output in written:
                raise InputError(
                    f"{path}: would be written to {output.name}, as {written[output]} was; "
                    "prepare it on its own with --name"
                )
            stack_l1c(product, output, resampling=resampling, compress=compress)
            written[output] = path
            outcome = PreparedProduct(path, output, product, None, time.perf_counter() - started)
        except IbhfnError as exc:
            outcome = PreparedProduct(path, None, product, str(exc), time.perf_counter() - started)
        outcomes.append(outcome)
        if done is not None:
            done(outcome)
    return outcomes
