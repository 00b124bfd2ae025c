"""Test kits for code built on ChatFlow: the conformance suites a third-party
state store (`store_conformance`) or action kind (`action_conformance`) runs
to show it keeps ChatFlow's contract. Nothing here is imported by ChatFlow
itself, and nothing here needs pytest to import (the suites are plain
classes that pytest or unittest runs).
"""
