"""The exporter's warnings and log lines are hidden inside the export only, and no one else's."""

import logging
import warnings

from ibhfn.export.onnx_export import export_onnx, quiet_exporter


def test_only_the_exporters_warnings_are_hidden_and_the_filters_come_back():
    before, levels = list(warnings.filters), [logging.getLogger(n).level for n in ("torch.onnx", "onnxscript", "")]
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with quiet_exporter():
            warnings.warn_explicit(
                "axis renamed", UserWarning, "_onnx_program.py", 1, module="torch.onnx._internal.exporter._onnx_program"
            )
            warnings.warn("a caller's own warning", UserWarning, stacklevel=1)
            warnings.warn("a caller's deprecation", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["a caller's own warning", "a caller's deprecation"]
    assert warnings.filters == before
    assert [logging.getLogger(n).level for n in ("torch.onnx", "onnxscript", "")] == levels


def test_an_export_leaves_the_warning_filters_and_loggers_as_they_were(ibhfn_checkpoint, tmp_path):
    before, root_level = list(warnings.filters), logging.getLogger().level
    export_onnx(ibhfn_checkpoint, tmp_path / "m.onnx")
    assert warnings.filters == before and logging.getLogger().level == root_level
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.warn("after the export", UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["after the export"]
