"""Interactive exploration in JupyterLab: the Explorer panel and its helpers.

- :class:`Explorer`: choose a study, set its config fields in a sidebar, run it in a
  worker thread, watch its plot and the network (coloured by the members' answers) after
  every round, and read any member's prompt and answer in the transcript tab.
- :class:`SandboxStudy`: the Explorer's playground (``workbench run sandbox``), a question
  spreading through a mixed society, with every knob of a society as a config field;
  it lives in :mod:`workbench.studies.sandbox` and is re-exported here.
- :func:`society_figure`, :func:`network_figure`, :func:`choice_shares_figure`: the
  figures, for notebooks that build societies by hand.
- :func:`notebook_gateway`: the gateway teaching notebooks use to replay their cassettes.
- :class:`PromptLog`: keeps the prompts a run's LLM members were sent (the transcript).
"""

from workbench.studies.sandbox import QUESTIONS, SandboxConfig, SandboxStudy
from workbench.widgets.explorer import Explorer, default_studies
from workbench.widgets.notebook import notebook_gateway
from workbench.widgets.plots import choice_shares_figure, network_figure, png, society_figure
from workbench.widgets.transcript import PromptLog

__all__ = [
    "QUESTIONS",
    "Explorer",
    "PromptLog",
    "SandboxConfig",
    "SandboxStudy",
    "choice_shares_figure",
    "default_studies",
    "network_figure",
    "notebook_gateway",
    "png",
    "society_figure",
]
