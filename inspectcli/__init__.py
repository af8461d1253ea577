"""inspectcli: what drives a fitted scikit-learn model's predictions, from the shell or Python."""

__version__ = "0.1.0"
