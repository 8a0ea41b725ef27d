"""Reports of a search: one self-contained HTML page from a run folder."""

from keras_nas.report.page import report
