"""`prepare_products`: what `ibhfn-prepare s2` runs, called as a library function."""

import shutil

import pytest

from ibhfn.errors import InputError
from ibhfn.runtime.l1c_batch import prepare_products


def test_each_product_is_an_outcome_and_a_failure_does_not_stop_the_next(tmp_path, make_l1c_product):
    safe, _ = make_l1c_product(tmp_path / "a", size=60)
    again = shutil.copytree(safe, tmp_path / "b" / safe.name)
    heard = []
    outcomes = prepare_products([tmp_path / "missing.zip", safe, again], tmp_path / "out", done=heard.append)
    assert heard == outcomes and [o.path for o in outcomes] == [tmp_path / "missing.zip", safe, again]
    missing, stacked, clash = outcomes
    assert missing.output is None and missing.error == f"{tmp_path / 'missing.zip'}: no such file or folder"
    assert stacked.error is None and stacked.output == tmp_path / "out" / "T32TQM_20230412_s2.tif"
    assert stacked.product is not None and stacked.product.offset == -1000 and stacked.output.is_file()
    assert clash.output is None and "would be written to T32TQM_20230412_s2.tif" in clash.error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["T32TQM_20230412_s2.tif"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x", "products": 2}, "--name names one scene; 2 products were given"),
        ({"name": "a/b"}, "--name 'a/b': a scene name is a file name, without folders"),
        ({"compress": "lzw"}, "unknown compression 'lzw'; choose one of deflate, zstd, none"),
        ({"resampling": "lanczos"}, "unknown resampling 'lanczos'; choose one of nearest, bilinear, cubic"),
        ({"products": 0}, "give one or more products, then the output folder"),
    ],
)
def test_a_request_that_cannot_work_is_refused_before_any_product_is_read(tmp_path, kwargs, message):
    count = kwargs.pop("products", 1)
    products = [tmp_path / f"never-read-{i}.zip" for i in range(count)]
    with pytest.raises(InputError) as raised:
        prepare_products(products, tmp_path / "out", **kwargs)
    assert str(raised.value) == message and not (tmp_path / "out").exists()
