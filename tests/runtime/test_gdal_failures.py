import logging
import threading

from ibhfn.runtime.gdal_failures import FAILURE, LOGGERS, gdal_failures


def signal_failure(message):
    """Log a failure as rasterio does when GDAL signals a CE_Failure (err_no 1: CPLE_AppDefined)."""
    logging.getLogger(LOGGERS[0]).info(f"{FAILURE}: err_no=%r, msg=%r", 1, message)


def test_failures_are_collected_for_the_watching_thread_only_and_nothing_else_changes(caplog):
    caplog.set_level(logging.WARNING)
    levels = [logging.getLogger(name).level for name in LOGGERS]
    with gdal_failures() as failures:
        signal_failure("TIFFAppendToStrip:Write error")
        other = threading.Thread(target=signal_failure, args=("a failure in another thread",))
        other.start()
        other.join()
    signal_failure("after the watch")
    assert failures == ["TIFFAppendToStrip:Write error"]
    assert caplog.records == []  # INFO stays below what the loggers passed on before
    assert [logging.getLogger(name).level for name in LOGGERS] == levels
    assert not any(logging.getLogger(name).filters for name in LOGGERS)
