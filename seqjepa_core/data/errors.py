"""The error every dataset reader raises for a bad file, one class for all datasets (so one ``except`` catches it)."""


class DatasetFileError(ValueError):
    """A file of the dataset is missing, damaged or inconsistent; the message starts with its path."""
