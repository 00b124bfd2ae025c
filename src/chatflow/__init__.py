"""ChatFlow: a workflow language and durable engine for AI-assisted software development."""

__version__ = "0.1.0"

# The runtime's public API, imported lazily so `import chatflow` stays fast.
_LAZY = {
    "WorkflowEngine": "chatflow.runtime.api",
    "CompiledFlow": "chatflow.runtime.api",
    "compile_flow": "chatflow.runtime.api",
    "WorkflowStartResult": "chatflow.runtime.records",
    "WorkflowInstanceState": "chatflow.runtime.records",
    "WorkflowStatusInfo": "chatflow.runtime.records",
    "WorkflowState": "chatflow.runtime.records",
    "WorkflowHistoryEvent": "chatflow.runtime.records",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chatflow' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
