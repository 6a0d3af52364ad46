"""seq-JEPA reproduction core: data, models, methods, training, probes and tables.

The Snakemake workflow calls thin scripts in ``workflow_scripts/``; every behaviour lives here.
"""

__version__ = "0.1.0"
