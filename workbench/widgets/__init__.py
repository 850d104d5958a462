"""Interactive exploration in JupyterLab: the Explorer panel and its helpers.

- :class:`Explorer`: choose a study, set its config fields with widgets, run it in a
  worker thread, see its plot and the network coloured by the members' answers.
- :class:`SandboxStudy`: the Explorer's playground (``workbench run sandbox``), a question
  spreading through a mixed society, with every knob of a society as a config field;
  it lives in :mod:`workbench.studies.sandbox` and is re-exported here.
- :func:`society_figure`, :func:`network_figure`, :func:`choice_shares_figure`: the
  figures, for notebooks that build societies by hand.
- :func:`notebook_gateway`: the gateway teaching notebooks use to replay their cassettes.
"""

from workbench.studies.sandbox import QUESTIONS, SandboxConfig, SandboxStudy
from workbench.widgets.explorer import Explorer, default_studies
from workbench.widgets.notebook import notebook_gateway
from workbench.widgets.plots import choice_shares_figure, network_figure, png, society_figure

__all__ = [
    "QUESTIONS",
    "Explorer",
    "SandboxConfig",
    "SandboxStudy",
    "choice_shares_figure",
    "default_studies",
    "network_figure",
    "notebook_gateway",
    "png",
    "society_figure",
]
